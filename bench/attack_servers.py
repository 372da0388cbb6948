"""Before/after figures for the server attacks of issue 25: each probe of tests/attack_probe.py against a real
`rag serve` / `rag mcp` on 127.0.0.1, run from the code at ``--code`` (e.g. /work/main for main as it was),
printed as a Markdown table (status, seconds, the server's peak RSS).

    python bench/attack_servers.py --index /tmp/idx [--code /work/main] [--skip-huge] [--json out.json]

The index can be any small one (`rag index tests/fixtures/corpus --index /tmp/idx`)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from attack_probe import (  # noqa: E402
    JSON,
    MB,
    Probe,
    SlowModel,
    chat_body,
    history,
    huge_json,
    nested,
    probe,
    rag_env,
    rag_exe,
    saturate,
    saturate_mcp,
    start_server,
)


def main() -> None:
    """Run every probe and print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", required=True)
    ap.add_argument("--code", default=None, help="PYTHONPATH for the servers (default: this checkout)")
    ap.add_argument("--skip-huge", action="store_true", help="skip the 100 MB bodies")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    code = args.code or str(ROOT)
    name = Path(args.index).name
    model = f"rag:{name}"
    cwd = Path(tempfile.mkdtemp())
    out: list[Probe] = []

    def serve(env: dict | None = None, extra: list[str] | None = None):
        return start_server(["serve", "--index", args.index, *(extra or [])], "/v1/models", cwd, code, env)

    s = serve()
    try:
        out.append(
            probe(
                s,
                "nested JSON, 100,000 deep",
                "POST",
                "/v1/chat/completions",
                headers=JSON,
                body=nested(100_000).replace(b'"m"', json.dumps(model).encode()),
            )
        )
        out.append(
            probe(
                s,
                "text/plain body, no key",
                "POST",
                "/v1/chat/completions",
                headers={"Content-Type": "text/plain"},
                body=chat_body(model),
                timeout=120,
            )
        )
        out.append(probe(s, "foreign Host: GET /v1/models", "GET", "/v1/models", headers={"Host": "rebind.example:80"}))
        out.append(
            probe(
                s,
                "foreign Host: POST chat",
                "POST",
                "/v1/chat/completions",
                headers={**JSON, "Host": "rebind.example:80"},
                body=chat_body(model),
                timeout=120,
            )
        )
        out.append(
            probe(
                s,
                "foreign Origin: POST chat",
                "POST",
                "/v1/chat/completions",
                headers={**JSON, "Origin": "http://attacker.example"},
                body=chat_body(model),
                timeout=120,
            )
        )
        out.append(
            probe(
                s,
                "history of 20,000 messages (<1 MB)",
                "POST",
                "/v1/chat/completions",
                headers=JSON,
                body=chat_body(model, history(20_000)),
                timeout=300,
            )
        )
        out.append(
            probe(
                s,
                "history of 50,000 messages",
                "POST",
                "/v1/chat/completions",
                headers=JSON,
                body=chat_body(model, history(50_000)),
                timeout=300,
            )
        )
    finally:
        s.stop()
    if not args.skip_huge:
        for label, many, chunked in [
            ("100 MB body (one message), Content-Length", False, False),
            ("100 MB body (3.3M messages), Content-Length", True, False),
            ("100 MB body (3.3M messages), chunked", True, True),
        ]:
            s = serve()
            try:
                length, pieces = huge_json(100 * MB, model, many)
                out.append(
                    probe(
                        s,
                        label,
                        "POST",
                        "/v1/chat/completions",
                        headers=JSON,
                        body=pieces,
                        length=None if chunked else length,
                        chunked=chunked,
                        timeout=300,
                    )
                )
            finally:
                s.stop()
    slow = SlowModel()
    try:
        env = {"RAG_LLM_TRANSLATE": "false", "RAG_LLM_REWRITE": "false"}
        s = serve(env, ["--llm", "openai:slow", "--llm-base-url", slow.url])
        try:
            out.append(saturate(s, slow, name))
        finally:
            s.stop()
        m = start_server(
            ["mcp", "--index", args.index, "--llm", "openai:slow", "--llm-base-url", slow.url], "/mcp", cwd, code, env
        )
        try:
            out.append(saturate_mcp(m, slow))
        finally:
            m.stop()
    finally:
        slow.close()
    import subprocess
    import time

    t = time.monotonic()
    proc = subprocess.run(
        [rag_exe(), "mcp", "--index", args.index, "--host", "192.0.2.1", "--port", "8765"],
        cwd=cwd,
        env=rag_env(code),
        capture_output=True,
        text=True,
        timeout=300,
    )
    out.append(
        Probe(
            "mcp --host (not loopback), no key",
            f"exit {proc.returncode}",
            round(time.monotonic() - t, 3),
            0,
            {"stderr": proc.stderr.strip().splitlines()[-1:]},
        )
    )
    m = start_server(["mcp", "--index", args.index], "/mcp", cwd, code)
    try:
        mcp_json = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        length, pieces = huge_json(100 * MB)
        out.append(
            probe(
                m, "mcp: 100 MB body, chunked", "POST", "/mcp", headers=mcp_json, body=pieces, chunked=True, timeout=300
            )
        )
        out.append(
            probe(
                m,
                "mcp: nested JSON, 100,000 deep",
                "POST",
                "/mcp",
                headers=mcp_json,
                body=b'{"jsonrpc": "2.0", "id": 1, "method": "x", "params": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            )
        )
        out.append(
            probe(
                m,
                "mcp: foreign Host",
                "POST",
                "/mcp",
                headers={**mcp_json, "Host": "rebind.example:80"},
                body=b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}',
            )
        )
    finally:
        m.stop()

    print(f"code: {code}\n")
    print("| probe | status | seconds | peak RSS MB | detail |\n|---|---|---|---|---|")
    for p in out:
        print(
            f"| {p.name} | {p.status} | {p.seconds} | {p.peak_mb} | {json.dumps(p.detail, ensure_ascii=False)[:160]} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(p) for p in out], indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
