"""A real Milvus standalone server for tests and benchmarks: ``milvus_server(base_dir)`` starts one on
127.0.0.1 (the ``milvus`` package, a test extra) on free ports, to run against ``RAG_MILVUS_URI`` as on a
cluster (tests/test_milvus_server.py, bench/bench_milvus_server.py). Test-only: not in the installed package."""

from __future__ import annotations

import contextlib
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from helpers import free_port, port_open


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
