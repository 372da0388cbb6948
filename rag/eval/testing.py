"""Quality tests for your own gold file, in pytest.

    def test_my_corpus(rag_eval):
        report = rag_eval("eval/my_gold.jsonl", index="my-papers")
        assert_quality(report, recall_at_5=0.9, key_fact_coverage=0.85, max_false_refusal_rate=0.05)

``rag_eval`` is a pytest fixture (this module is registered as a pytest plugin) that runs a gold file
through the real pipeline, loading each index once per test session. ``assert_quality`` names every
metric below its minimum and the questions that failed.

``milvus_server(base_dir)`` starts a real Milvus standalone server on 127.0.0.1 (the ``milvus``
package, a test extra) to run a test or benchmark against ``RAG_MILVUS_URI`` as on a cluster.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rag.eval.evaluation import evaluate
from rag.eval.gold import load_gold


def _metric(name: str) -> tuple[str, bool]:
    """'recall_at_5' -> ('recall@5', higher is better); 'max_false_refusal_rate' -> (..., False)."""
    upper = name.startswith("max_")
    key = name[4:] if upper else name.removeprefix("min_")
    return key.replace("_at_", "@"), not upper


def assert_quality(report: dict, group: str | None = None, **limits: float) -> None:
    """Fail unless every metric meets its limit: ``name=0.9`` is a minimum, ``max_name=0.05`` a maximum.

    ``group`` picks a breakdown, e.g. ``"by_lang:en"`` or ``"by_kind:paraphrase"`` (default: overall).
    """
    summary = report["summary"]["overall"]
    if group:
        kind, _, value = group.partition(":")
        summary = report["summary"][kind][value]
    problems = []
    for name, limit in limits.items():
        key, higher = _metric(name)
        if key not in summary:
            raise KeyError(f"no metric {key!r} in the report; known: {', '.join(sorted(summary))}")
        value = summary[key]
        if (value < limit) if higher else (value > limit):
            problems.append(f"{key} = {value:.3f} ({'below the minimum' if higher else 'above the maximum'} {limit})")
    if problems:
        failed = [f"  {q['id']}: {'; '.join(q['reasons'])}" for q in report["questions"] if not q["pass"]]
        where = f" [{group}]" if group else ""
        raise AssertionError(
            "quality below target"
            + where
            + ":\n  "
            + "\n  ".join(problems)
            + ("\nfailed questions:\n" + "\n".join(failed) if failed else "")
        )


@pytest.fixture(scope="session")
def rag_eval():
    """Factory fixture: ``rag_eval(gold_path, k=None, **settings) -> report``, assistants cached per settings."""
    from rag.answer.pipeline import Assistant
    from rag.settings import load_settings

    assistants: dict[tuple, Assistant] = {}

    def run(gold: str | Path, k: int | None = None, **settings) -> dict:
        key = tuple(sorted((a, str(b)) for a, b in settings.items()))
        if key not in assistants:
            assistants[key] = Assistant.open(load_settings(**settings))
        a = assistants[key]
        return evaluate(a, load_gold(gold), k=k or a.settings.top_k)

    return run


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on host:port."""
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalMilvus:
    """A running Milvus standalone server: its URI, gRPC port, process id and data directory."""

    uri: str
    port: int
    pid: int
    base_dir: Path
    server: object = field(repr=False)

    def stop(self, timeout: float = 60) -> None:
        """Stop the server (SIGTERM, SIGKILL after ``timeout`` s) and wait until its port is closed."""
        proc: subprocess.Popen | None = getattr(self.server, "server_proc", None)
        if proc is None:
            return
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
        self.server.stop()  # type: ignore[attr-defined]  # kills it if still running, closes the log files
        deadline = time.monotonic() + 30
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.2)


def _log_error(base_dir: Path) -> str:
    """The last ERROR line of the server's log, for a start-up failure."""
    log = base_dir / "logs" / "milvus-stdout.log"
    lines = [ln for ln in log.read_text("utf-8", "replace").splitlines() if "[ERROR]" in ln] if log.exists() else []
    return lines[-1][:300] if lines else f"no error logged; see {base_dir / 'logs'}"


@contextlib.contextmanager
def milvus_server(base_dir: Path, port: int | None = None, timeout: float = 180) -> Iterator[LocalMilvus]:
    """A real Milvus standalone server on 127.0.0.1:``port`` (a free one by default) with its data
    and logs under ``base_dir``; stopped, its port closed, on exit."""
    try:
        import milvus
    except ImportError:
        raise RuntimeError("a Milvus server needs the milvus package: pip install -e '.[test]'") from None
    base_dir = Path(base_dir).resolve()
    port = port or free_port()
    server = milvus.MilvusServer(_etcd_on_free_ports(milvus, base_dir), wait_for_started=False, proxy_port=port)
    server.set_base_dir(str(base_dir))
    server.start()
    local = LocalMilvus(f"http://127.0.0.1:{port}", port, server.server_proc.pid, Path(base_dir), server)
    try:
        _wait_healthy(local, server.webservice_port, timeout)
        yield local
    finally:
        local.stop()


def _etcd_on_free_ports(milvus, base_dir: Path):
    """The package's server configuration with its embedded etcd on free ports: by default etcd's peer
    port is always 2380, so a second server on the machine (another test run) could not start."""
    data = Path(milvus.__file__).parent / "data"
    client, peer = free_port(), free_port()
    base_dir.mkdir(parents=True, exist_ok=True)
    (base_dir / "etcd.yaml").write_text(
        f"name: default\nlisten-client-urls: http://127.0.0.1:{client}\nadvertise-client-urls: http://127.0.0.1:{client}\n"
        f"listen-peer-urls: http://127.0.0.1:{peer}\ninitial-advertise-peer-urls: http://127.0.0.1:{peer}\n"
        f"initial-cluster: default=http://127.0.0.1:{peer}\n",
        "utf-8",
    )
    template = (data / "config.yaml.template").read_text("utf-8")
    embed = "  use:\n    embed: true"
    if embed not in template:
        raise RuntimeError(f"unexpected Milvus configuration template in {data}: no '{embed.strip()}'")
    template = template.replace(embed, f"  config:\n    path: {base_dir / 'etcd.yaml'}\n{embed}")
    (base_dir / "milvus.yaml.template").write_text(template, "utf-8")
    config = milvus.MilvusServerConfig(template=str(base_dir / "milvus.yaml.template"), etcd_port=client)
    config.glog_conf_file = str(data / "glog.conf")  # set by the package only for its own template
    return config


def _wait_healthy(local: LocalMilvus, health_port: int, timeout: float) -> None:
    """Until the server's /healthz says OK and its gRPC port accepts connections."""
    deadline = time.monotonic() + timeout
    proc = local.server.server_proc  # type: ignore[attr-defined]
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"http://127.0.0.1:{health_port}/healthz", timeout=5) as resp:
                if b"OK" in resp.read() and port_open(local.port):
                    return
        time.sleep(0.5)
    state = f"exited with code {proc.returncode}" if proc.poll() is not None else f"not ready in {timeout:.0f} s"
    raise RuntimeError(f"Milvus server {state}: {_log_error(local.base_dir)}")
