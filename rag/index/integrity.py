"""Index integrity: a marker that proves a directory is a rag index, and a manifest of every file's
size and checksum written at build time, checked when the index is opened.

Opening checks every file's presence and size (a stat each) and re-hashes only files whose stat
stamp (inode, mtime, ctime) differs from the one recorded at build time: a file changed through the
file system (garbled, truncated, replaced, restored from a copy) is hashed and caught, an untouched
one costs nothing. ``rag verify`` hashes every file regardless, which also catches damage below the
file system (bit rot). params.json, which holds the manifest, carries a checksum of itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from rag.errors import IndexCorruptError

MARKER = ".rag-index"  # written first into every index directory (and its temporary build directory)
MARKER_TEXT = "This directory is a rag index (built by `rag index`). Delete it with its folder, not by hand.\n"
PARAMS = "params.json"
_SELF = "params_checksum"
_BLOCK = 1 << 20


def write_marker(directory: Path) -> None:
    """Mark a directory as a rag index (before anything else is written into it)."""
    (directory / MARKER).write_text(MARKER_TEXT, encoding="utf-8")


def is_ours(directory: Path) -> bool:
    """Whether a directory is provably a rag index or one of its build leftovers: it holds the marker,
    or (indexes written before the marker existed) a params.json naming a rag format version."""
    if (directory / MARKER).is_file():
        return True
    try:
        return (
            "format_version" in json.loads((directory / PARAMS).read_text("utf-8"))
            and (directory / "docs.json").is_file()
        )
    except (OSError, ValueError, TypeError):
        return False


def digest(path: Path) -> str:
    """BLAKE2b-128 of a file's bytes, read in 1 MB blocks."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_ino, st.st_mtime_ns, st.st_ctime_ns]


def manifest(directory: Path, skip: frozenset[str] = frozenset()) -> dict[str, dict]:
    """Size, checksum and stat stamp of every file of a finished index directory (but params.json and
    the files named in ``skip``, e.g. hard links whose entries are carried over)."""
    out: dict[str, dict] = {}
    for f in sorted(directory.rglob("*")):
        rel = f.relative_to(directory).as_posix()
        if f.is_file() and rel not in (PARAMS, MARKER) and rel not in skip:
            st = f.stat()
            out[rel] = {"size": st.st_size, "blake2b": digest(f), "stamp": _stamp(st)}
    return out


def seal(params: dict) -> dict:
    """``params`` with a checksum of its own content added (verified by ``read_params``)."""
    body = {k: v for k, v in params.items() if k != _SELF}
    return {
        **body,
        _SELF: hashlib.blake2b(
            json.dumps(body, sort_keys=True, ensure_ascii=False).encode(), digest_size=16
        ).hexdigest(),
    }


def params_text(params: dict) -> str:
    """params.json's text: ``params`` sealed with its own checksum, one top-level key per line, each value
    written compactly (json's C encoder; ``indent`` falls back to the pure-Python one, seconds for a
    large index)."""
    body = ",\n".join(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in seal(params).items())
    return "{\n" + body + "\n}\n"


def params_intact(params: dict) -> bool:
    """Whether a params.json's own checksum matches its content (indexes without one pass)."""
    if _SELF not in params:
        return True
    return seal(params)[_SELF] == params[_SELF]


@dataclass(frozen=True)
class Damage:
    """One damaged file of an index and what is wrong with it."""

    file: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file} {self.problem}"


def check_files(directory: Path, files: dict[str, dict], full: bool = False) -> list[Damage]:
    """Damaged files of an index: missing, of the wrong size, or (when re-hashed: stamp changed, or
    ``full``) with other content than was written."""
    out: list[Damage] = []
    for name, meta in files.items():
        f = directory / name
        try:
            st = f.stat()
        except OSError:
            out.append(Damage(name, "is missing"))
            continue
        if st.st_size != meta["size"]:
            what = "is empty" if st.st_size == 0 else "is truncated" if st.st_size < meta["size"] else "has grown"
            out.append(Damage(name, f"{what} ({st.st_size} bytes, {meta['size']} written)"))
        elif full or _stamp(st) != meta.get("stamp"):
            try:
                same = digest(f) == meta["blake2b"]
            except OSError as exc:
                out.append(Damage(name, f"cannot be read ({exc.strerror})"))
                continue
            if not same:
                out.append(Damage(name, "has other content than was written (checksum mismatch)"))
    return out


_FIX = "; rebuild it with: "


def damaged(path: Path, what: str) -> IndexCorruptError:
    """The one-line error for a damaged index, naming the damage and the fix."""
    return IndexCorruptError(f"index at {path} is damaged: {what}{_FIX}rag index PATH --force --index {path.name}")


def rebuilt_note(exc: Exception) -> str:
    """The note of a build that found the index damaged and started over: the damage, without the fix
    (the rebuild) the error tells the user to run."""
    return f"{str(exc).split(_FIX)[0]}; rebuilt from scratch"


def verify(path: Path, params: dict, full: bool = False) -> None:
    """Raise IndexCorruptError naming the first damaged file (and how many more) of an index."""
    if not params_intact(params):
        raise damaged(path, f"{PARAMS} has other content than was written (checksum mismatch)")
    files = params.get("files")
    if not isinstance(files, dict):
        raise damaged(path, f"{PARAMS} lists no files")
    problems = check_files(path, files, full)
    if problems:
        more = f" (and {len(problems) - 1} more files)" if len(problems) > 1 else ""
        raise damaged(path, f"{problems[0]}{more}")


def restamp(directory: Path, files: dict[str, dict]) -> dict[str, dict]:
    """``files`` with the stat stamps the files have now (sizes and checksums kept): for hard links a
    writer made itself, whose inode change time moved when they were linked or their old names unlinked."""
    out = {}
    for name, meta in files.items():
        try:
            st = (directory / name).stat()
        except OSError:
            out[name] = meta
            continue
        out[name] = {**meta, "stamp": _stamp(st)} if st.st_size == meta["size"] else meta
    return out
