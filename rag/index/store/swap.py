"""One writer per index, and atomic replacement: a build writes a marked temporary directory and swaps it
in with two renames; a crash between them is finished or undone by the next writer, under the lock,
and only on directories that carry the index marker."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from rag.errors import InvalidInputError
from rag.index.integrity import MARKER, is_ours


@contextlib.contextmanager
def locked(target: Path) -> Iterator[None]:
    """One writer per index: an advisory lock on ``.NAME.lock`` next to the index directory.

    The lock file is removed again when no index results (a first build that failed), so names
    that were only tried leave nothing behind; a writer that waited checks it still holds the file
    that is in place before going on.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.parent / f".{target.name}.lock"
    while True:
        fh = open(lock, "a")
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            if os.fstat(fh.fileno()).st_ino == os.stat(lock).st_ino:
                break  # the lock file in place is the one locked
        except FileNotFoundError:
            pass  # removed by the writer before us: lock the new one
        fh.close()
    try:
        yield
    finally:
        if not target.exists():
            with contextlib.suppress(OSError):
                lock.unlink()
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def refuse_foreign(target: Path) -> None:
    """A build replaces its target directory: never one that is not a rag index (or empty)."""
    if target.is_dir() and not is_ours(target) and any(target.iterdir()):
        raise InvalidInputError(
            f"{target} is a folder that is not a rag index; give --index a new name or an "
            "empty folder (rag never replaces other folders)"
        )
    if target.exists() and not target.is_dir():
        raise InvalidInputError(f"{target} is a file; give --index a new name or a folder path")


def recover(target: Path) -> None:
    """Finish or undo a swap that was interrupted between its two renames (writers only, under the
    lock, and only on directories that carry the index marker)."""
    old = target.parent / f".{target.name}.old"
    if not old.is_dir() or not is_ours(old):
        return
    if not target.exists():
        os.rename(old, target)
    elif is_ours(target):
        shutil.rmtree(old, ignore_errors=True)


def clear_stale_tmp(target: Path) -> None:
    """Remove marked temporary build directories whose building process is gone."""
    for tmp in target.parent.glob(f".{target.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if tmp.is_dir() and (tmp / MARKER).is_file() and (not pid.isdigit() or not _alive(int(pid))):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()  # our own pid: a leftover of an earlier failed build here


def target_name(tmp: Path) -> str:
    """Index name of a temp build directory ('.NAME.tmp-PID')."""
    return tmp.name[1:].rsplit(".tmp-", 1)[0]


def swap(tmp: Path, target: Path) -> None:
    """Replace ``target`` by ``tmp``: a crash at any point leaves one complete index loadable."""
    old = target.parent / f".{target.name}.old"
    if old.exists():  # not ours (``recover`` clears our own): never overwrite or delete it
        raise InvalidInputError(f"{old} is in the way of replacing the index; move it elsewhere and rerun")
    if target.exists():
        os.rename(target, old)
    os.rename(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
