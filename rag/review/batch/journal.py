"""The append-only, fsynced journal of finished answers: a run killed half-way resumes from it."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from rag.errors import BatchOutputError


def journal_path(out: Path) -> Path:
    """Where finished records are appended: the output itself for .jsonl, else OUT.partial.jsonl beside it."""
    out = Path(out)
    return out if out.suffix.lower() == ".jsonl" else out.with_name(out.name + ".partial.jsonl")


class Journal:
    """Append-only JSONL of finished records: one fsynced line each, locked against a second writer."""

    def __init__(self, path: Path, by_doc: bool):
        self.path = path
        self.repaired = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise BatchOutputError(
                f"cannot write {path} ({exc.strerror}); give --out a file in a folder you can write to"
            ) from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise BatchOutputError(
                f"another `rag batch` is writing {path}; wait for it to finish or pick another --out"
            ) from None
        try:
            self.records = self._load(by_doc)
        except BaseException:
            self.close()
            raise

    def _load(self, by_doc: bool) -> dict[tuple[str, str | None], dict]:
        data = Path(self.path).read_bytes()
        if data and not data.endswith(b"\n"):
            # a run killed mid-write leaves a torn last line: that answer was never finished, redo it
            keep = data.rfind(b"\n") + 1
            os.ftruncate(self.fd, keep)
            data, self.repaired = data[:keep], True
        records: dict[tuple[str, str | None], dict] = {}
        for n, line in enumerate(data.decode("utf-8", errors="replace").split("\n"), start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                ok = isinstance(rec, dict) and {"id", "question", "answer", "citations"} <= set(rec)
            except json.JSONDecodeError:
                ok = False
            if not ok:
                raise BatchOutputError(
                    f"{self.path} line {n} is not a `rag batch` answer record; pick another --out or move that file away"
                )
            if ("doc" in rec) != by_doc:
                mode = "--by-doc" if "doc" in rec else "plain (no --by-doc)"
                raise BatchOutputError(f"{self.path} holds {mode} answers; rerun in that mode or pick another --out")
            records.setdefault((str(rec["id"]), rec.get("doc")), rec)
        return records

    def append(self, record: dict) -> None:
        """Write one record as one line and force it to disk before returning."""
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        while data:
            data = data[os.write(self.fd, data) :]
        os.fsync(self.fd)
        self.records[(record["id"], record.get("doc"))] = record

    def close(self) -> None:
        """Release the lock and the file."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
