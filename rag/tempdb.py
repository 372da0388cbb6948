"""SQLite files written once into the temp folder and then read as needed (jieba's dictionary and
tagging model, CC-CEDICT's glossary keys and readings): named after the file they are written from,
written atomically."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Callable


def temp_db_path(name: str, source: str, version: str, fmt: int) -> str:
    """The temp-folder path of the SQLite file ``name`` written from ``source`` (a package's data file):
    per user, and new whenever the package version, the source's size or time, or ``fmt`` changes."""
    st = os.stat(source)
    uid = os.getuid() if hasattr(os, "getuid") else 0
    key = f"{version}-{st.st_size}-{st.st_mtime_ns}-{fmt}"
    return os.path.join(tempfile.gettempdir(), f"rag-{name}.u{uid}.{key}.sqlite")


def write_db(path: str, fill: Callable[[sqlite3.Connection], None]) -> None:
    """Write an SQLite file at ``path`` atomically: ``fill`` creates and fills its tables in a file of
    this process, which replaces ``path`` once committed (readable by its owner only) or is removed."""
    tmp = f"{path}.{os.getpid()}.tmp"
    if os.path.exists(tmp):
        os.remove(tmp)
    con = sqlite3.connect(tmp)
    try:
        fill(con)
        con.commit()
        con.close()
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        con.close()
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
