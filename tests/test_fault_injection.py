"""Fault injection: every file of a real index, missing, empty, truncated or garbled (from a fixed seed),
must give one `error:` line naming the damage and the fix — never a traceback, never an answer.

The marker file `.rag-index` is left out: it only proves a directory is an index (for crash recovery),
no answer is read from it, and an index without it still answers correctly.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from conftest import rag_cli

from rag.cli.commands import main
from rag.index.integrity import params_text
from rag.index.store import build_index, load_index
from rag.settings import load_settings

SEED = 20261129
FAULTS = ("missing", "empty", "truncated", "garbled")
QUESTION = "What share of intercontinental traffic uses submarine cables?"


@pytest.fixture(scope="module")
def built(tmp_path_factory, fixture_corpus, fixture_settings) -> dict[str, Path]:
    """Pristine indexes to copy: exact (flat) and approximate (HNSW, which adds dense.faiss)."""
    root = tmp_path_factory.mktemp("faults")
    out = {}
    for kind in ("flat", "hnsw"):
        s = load_settings(
            index_dir=root,
            index=kind,
            cache_dir=fixture_settings.embedding_cache_dir,
            chunk_size=120,
            chunk_overlap=30,
            dense_index=kind,
        )
        build_index([fixture_corpus], s)
        out[kind] = s.index_path
    return out


def _files(index: Path) -> list[str]:
    return sorted(p.relative_to(index).as_posix() for p in index.rglob("*") if p.is_file() and p.name != ".rag-index")


def damage(path: Path, fault: str, rng: random.Random) -> None:
    """Apply one fault to one file, reproducibly from ``rng``."""
    data = path.read_bytes()
    if fault == "missing":
        path.unlink()
    elif fault == "empty":
        path.write_bytes(b"")
    elif fault == "truncated":
        path.write_bytes(data[: rng.randrange(0, max(1, len(data) - 1))])
    else:  # garbled: bytes overwritten in place, same size
        buf = bytearray(data)
        for _ in range(max(1, min(16, len(buf) // 8))):
            i = rng.randrange(len(buf))
            buf[i] = (buf[i] + rng.randrange(1, 256)) % 256
        path.write_bytes(bytes(buf))


def run_cli(*args: str) -> tuple[int, str, str]:
    """The real CLI entry point, in this process (so 80 cases take seconds): exit code, stdout, stderr.
    Any exception other than SystemExit escapes and fails the test: that would be a traceback."""
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["rag", *args]
    try:
        with redirect_stdout(out), redirect_stderr(err):
            main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


def _cases() -> list[tuple[str, str, str]]:
    return [(kind, name, fault) for kind in ("flat",) for name in FLAT_FILES for fault in FAULTS] + [
        ("hnsw", "dense.faiss", fault) for fault in FAULTS
    ]


FLAT_FILES = [
    "bm25/data.csc.index.npy",
    "bm25/indices.csc.index.npy",
    "bm25/indptr.csc.index.npy",
    "bm25/params.index.json",
    "bm25/vocab.index.json",
    "bm25_tf.npy",
    "boxes.json",
    "chunk_docs.npy",
    "chunk_vectors.npy",
    "chunks.jsonl",
    "chunks.offsets.npy",
    "docs.json",
    "glossary.json",
    "languages.npz",
    "params.json",
    "references.json",
    "sentence_vectors.npy",
    "sentences.npy",
    "terms.json",
    "token_offsets.npy",
    "tokens.npy",
    "vector_ids.npy",
]


def test_the_matrix_covers_every_file(built):
    assert _files(built["flat"]) == FLAT_FILES
    assert set(_files(built["hnsw"])) == set(FLAT_FILES) | {"dense.faiss"}


@pytest.mark.parametrize("kind,name,fault", _cases())
def test_damaged_file_is_one_error_line(built, tmp_path, kind, name, fault, fixture_settings, monkeypatch):
    rng = random.Random(f"{SEED}:{kind}:{name}:{fault}")
    index = tmp_path / "idx"
    shutil.copytree(built[kind], index)
    damage(index / name, fault, rng)
    monkeypatch.setenv("RAG_CACHE_DIR", str(fixture_settings.embedding_cache_dir))
    for args in (
        ["ask", QUESTION, "--index", str(index)],
        ["ask", QUESTION, "--index", str(index), "--json"],
        ["info", "--index", str(index)],
        ["verify", "--index", str(index)],
    ):
        code, out, err = run_cli(*args)
        assert code == 1, f"{args[0]} answered from a damaged index ({name} {fault}): {out[:200]}"
        assert out == "" and err.count("\n") == 1 and err.startswith("error: index at "), err
        assert "rag index PATH --force" in err and "Traceback" not in err


@pytest.mark.parametrize("name", ["sentence_vectors.npy", "sentences.npy", "tokens.npy"])
def test_noise_that_keeps_the_file_valid_is_still_caught(built, tmp_path, name):
    """The silent case: numbers changed inside a well-formed array (same shape, still parses)."""
    index = tmp_path / "idx"
    shutil.copytree(built["flat"], index)
    arr = np.load(index / name)
    rng = np.random.default_rng(SEED)
    noisy = arr.copy()
    flat = noisy.reshape(-1)
    picks = rng.choice(len(flat), size=max(1, len(flat) // 50), replace=False)
    flat[picks] = (flat[picks] + 1).astype(flat.dtype)
    np.save(index / name, noisy)
    code, out, err = run_cli("ask", QUESTION, "--index", str(index))
    assert code == 1 and out == "" and f"{name} has other content than was written" in err


def test_real_processes_print_one_line(built, tmp_path, fixture_settings):
    index = tmp_path / "idx"
    shutil.copytree(built["flat"], index)
    (index / "chunk_vectors.npy").write_bytes(b"")  # printed a bare "Aborted." before
    proc = rag_cli(
        "ask",
        QUESTION,
        "--index",
        str(index),
        cwd=tmp_path,
        env={"RAG_CACHE_DIR": str(fixture_settings.embedding_cache_dir)},
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == (
        f"error: index at {index} is damaged: chunk_vectors.npy is empty (0 bytes, "
        f"{(built['flat'] / 'chunk_vectors.npy').stat().st_size} written); rebuild it with: "
        f"rag index PATH --force --index idx\n"
    )


def test_a_build_over_a_damaged_index_notes_the_damage_not_the_fix_it_just_ran(tmp_path):
    """`rag index` over a damaged index says what was damaged and that it started over, not "rebuild it"."""
    from rag.index.integrity import damaged, rebuilt_note

    err = damaged(tmp_path / "mine", "chunks.jsonl is truncated (50 bytes, 136429 written)")
    assert str(err) == (
        f"index at {tmp_path / 'mine'} is damaged: chunks.jsonl is truncated (50 bytes, 136429 written); "
        "rebuild it with: rag index PATH --force --index mine"
    )
    assert rebuilt_note(err) == (
        f"index at {tmp_path / 'mine'} is damaged: chunks.jsonl is truncated (50 bytes, 136429 written); "
        "rebuilt from scratch"
    )


def test_damage_never_flows_into_the_next_build(built, tmp_path, fixture_corpus, fixture_settings):
    """An incremental build copies unchanged documents from the current index: never from a damaged one."""
    s = load_settings(
        index_dir=tmp_path,
        index="idx",
        cache_dir=fixture_settings.embedding_cache_dir,
        chunk_size=120,
        chunk_overlap=30,
    )
    shutil.copytree(built["flat"], s.index_path)
    damage(s.index_path / "tokens.npy", "garbled", random.Random(SEED))
    report = build_index([fixture_corpus], s)
    assert not report.up_to_date and report.reused == 0 and len(report.added) == 3
    assert report.notes == [
        f"index at {s.index_path} is damaged: tokens.npy has other content than was written "
        f"(checksum mismatch); rebuilt from scratch"
    ]
    fresh = load_index(s)
    pristine = load_index(
        load_settings(index_dir=built["flat"].parent, index="flat", cache_dir=fixture_settings.embedding_cache_dir)
    )
    assert np.array_equal(np.load(s.index_path / "tokens.npy"), np.load(built["flat"] / "tokens.npy"))
    assert [c.text for c in fresh.chunks] == [c.text for c in pristine.chunks]
    assert run_cli("verify", "--index", str(s.index_path))[0] == 0


def test_an_index_of_the_previous_format_asks_for_a_rebuild(built, tmp_path):
    """Format 4 kept one capped glossary.json for the whole index (format 5: one uncapped per segment)."""
    index = tmp_path / "idx"
    shutil.copytree(built["flat"], index)
    params = json.loads((index / "params.json").read_text("utf-8"))
    params["format_version"] = 4
    (index / "params.json").write_text(params_text(params), "utf-8")
    for args in (["ask", QUESTION, "--index", str(index)], ["verify", "--index", str(index)]):
        code, out, err = run_cli(*args)
        assert code == 1 and out == "" and err.count("\n") == 1, err
        assert "has format 4, this rag reads 5; rebuild it with: rag index PATH --force --index idx" in err
