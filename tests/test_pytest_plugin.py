"""The installed pytest plugin (pyproject's pytest11 entry point, rag/eval/testing.py) holds only what a
user's quality test needs (the rag_eval fixture, assert_quality), and pytest finds it both ways: loaded
from the entry point, and named with ``-p``. Test-only helpers (the Milvus launcher) live in tests/."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest
from conftest import ROOT


def test_the_plugin_holds_only_what_users_need():
    import rag.eval.testing as plugin

    public = sorted(
        n for n, v in vars(plugin).items() if not n.startswith("_") and getattr(v, "__module__", "") == plugin.__name__
    )
    assert public == ["assert_quality", "rag_eval"]


def test_the_entry_point_names_the_plugin_and_this_session_loads_it(request):
    """The fast tier's half of the check below: the entry point is declared, and the plugin that pyproject's
    addopts names with ``-p`` is the module this session loaded."""
    import rag.eval.testing as plugin

    entries = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["entry-points"]["pytest11"]
    assert entries == {"rag.eval.testing": "rag.eval.testing"}
    assert request.config.pluginmanager.get_plugin("rag.eval.testing") is plugin  # with its rag_eval fixture


@pytest.mark.slow  # two pytest start-ups in fresh processes: ~1.5 s of wall, ~2.5 s of CPU
def test_pytest_finds_the_plugin_by_its_entry_point_and_with_p(tmp_path):
    """pyproject's entry point installed as a fresh install would (a dist-info of its own on the path, the
    venv's own entry blocked), then pytest run without and with ``-p rag.eval.testing``."""
    entries = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["entry-points"]["pytest11"]
    assert entries == {"rag.eval.testing": "rag.eval.testing"}
    dist = tmp_path / "site" / "rag_plugin_check-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rag-plugin-check\nVersion: 0\n")
    (dist / "entry_points.txt").write_text("[pytest11]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(ROOT)])}
    runs = {  # both at once: each is a pytest start-up
        tuple(extra): subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:rag", "-p", "no:cacheprovider", "-p", "no:langsmith_plugin"]
            + ["--fixtures", "-q", *extra],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for extra in ([], ["-p", "rag.eval.testing"])
    }
    for extra, proc in runs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, (extra, out[-1500:], err[-1500:])
        assert "rag_eval [session scope]" in out, extra
