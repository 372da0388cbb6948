"""Synthetic scale corpus: Chinese-like and English-like passages with planted answerable facts.

Embedding a million passages with the real model would take days on this machine, so the vectors are
**precomputed random unit vectors** with the structure real embeddings have: a shared direction (all
e5 vectors are similar), a topic per document, a language offset, and per-sentence noise; a passage
vector is the normalised mean of its sentences. A planted fact is a sentence naming a rare entity
("<entity>的<attribute>是<value>。" / "The <attribute> of <Entity> is <value>."); its question shares
the entity with it (BM25 can find it) and its vector lies near the fact sentence's (dense can find
it), so retrieval quality can still be measured at scale. Text is made of Zipf-distributed pseudo-words
(2 Han characters, or Latin syllables) and is tokenised with rag's real tokenizer (jieba), in parallel.

    python bench/synth.py OUT_DIR --chunks 100000        # writes OUT_DIR (reused when present)
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

DIM = 384
CHUNKS_PER_DOC = 40
SENTS_PER_CHUNK = 3
ZH_SHARE = 0.7
TOPICS = 512
ATTRS_ZH = ["总部所在地", "成立年份", "成员数量", "负责人", "年度预算", "主要职能", "数据中心数量", "签署国数量"]
ATTRS_EN = [
    "headquarters",
    "founding year",
    "member count",
    "director",
    "annual budget",
    "main mandate",
    "data centre count",
    "signatory count",
]
# mixture weights of a sentence vector: shared direction, topic, language, own noise (e5-like: sims 0.5-0.9)
W_GLOBAL, W_TOPIC, W_LANG, W_NOISE = 0.55, 0.5, 0.35, 0.55
Q_NOISE = 0.45  # a question's vector = its fact sentence's + this much noise


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


class Vocab:
    """Pseudo-word pools and the shared vector directions (fixed by the seed)."""

    def __init__(self, seed: int):
        rng = np.random.default_rng(seed)
        han = [chr(c) for c in range(0x4E00, 0x4E00 + 3500)]
        self.zh = [han[a] + han[b] for a, b in rng.integers(0, len(han), (30_000, 2)).tolist()]
        syl = [a + b for a in "bcdfghklmnprstvz" for b in ("a", "e", "i", "o", "u", "ai", "ou", "an", "en", "or")]
        lens = rng.integers(1, 4, 30_000).tolist()
        picks = rng.integers(0, len(syl), (30_000, 3)).tolist()
        self.en = ["".join(syl[i] for i in row[:n]) for row, n in zip(picks, lens)]
        p = 1.0 / np.arange(1, 30_001) ** 1.05
        self.cdf = np.cumsum(p / p.sum())
        rare = [chr(c) for c in range(0x7000, 0x8000)]  # entity names: characters the pools never use
        self.rare_zh = rare
        self.global_dir = _unit(rng.standard_normal(DIM))
        self.lang_dir = {"zh": _unit(rng.standard_normal(DIM)), "en": _unit(rng.standard_normal(DIM))}
        self.topics = _unit(rng.standard_normal((TOPICS, DIM)))

    def sentence(self, rng, lang: str) -> str:
        n = int(rng.integers(8, 16))
        words = np.minimum(np.searchsorted(self.cdf, rng.random(n)), len(self.cdf) - 1)
        if lang == "zh":
            return "".join(self.zh[w] for w in words) + "。"
        text = " ".join(self.en[w] for w in words)
        return text[0].upper() + text[1:] + "."

    def vectors(self, rng, n: int, topic: int, lang: str) -> np.ndarray:
        noise = _unit(rng.standard_normal((n, DIM)))
        v = W_GLOBAL * self.global_dir + W_TOPIC * self.topics[topic] + W_LANG * self.lang_dir[lang] + W_NOISE * noise
        return _unit(v)


def _doc(vocab: Vocab, seed: int, d: int, n_chunks: int):
    """One document: its language, title, chunks (section, text, sentence spans) and vectors."""
    rng = np.random.default_rng([seed, d])
    lang = "zh" if rng.random() < ZH_SHARE else "en"
    topic = int(rng.integers(TOPICS))
    title = (vocab.sentence(rng, lang)[:24]).rstrip("。.")
    chunks = []
    vecs = vocab.vectors(rng, n_chunks * SENTS_PER_CHUNK, topic, lang)
    sent_vecs = [vecs[i * SENTS_PER_CHUNK : (i + 1) * SENTS_PER_CHUNK] for i in range(n_chunks)]
    for c in range(n_chunks):
        sents = [vocab.sentence(rng, lang) for _ in range(SENTS_PER_CHUNK)]
        sep = "" if lang == "zh" else " "
        text = sep.join(sents)
        spans, pos = [], 0
        for s in sents:
            spans.append((pos, pos + len(s)))
            pos += len(s) + len(sep)
        section = (
            f"{c // 8 + 1}. {vocab.zh[int(rng.integers(2000))] if lang == 'zh' else vocab.en[int(rng.integers(2000))]}"
        )
        chunks.append({"section": section, "text": text, "spans": spans})
    return lang, topic, title, chunks, sent_vecs


def _tokenize_batch(texts: list[str]) -> list[list[str]]:
    from rag.lang.text import tokenize

    return [tokenize(t) for t in texts]


def generate(out: Path, n_chunks: int, seed: int = 0, n_queries: int = 400, workers: int = 2) -> Path:
    """Write the corpus into ``out`` (skipped when it is already there)."""
    from numpy.lib.format import open_memmap

    if (out / "meta.json").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    vocab = Vocab(seed)
    n_docs = max(1, n_chunks // CHUNKS_PER_DOC)
    sizes = [CHUNKS_PER_DOC + (1 if d < n_chunks - n_docs * CHUNKS_PER_DOC else 0) for d in range(n_docs)]
    n_sent = n_chunks * SENTS_PER_CHUNK
    cvec = open_memmap(out / "chunk_vectors.npy", mode="w+", dtype=np.float32, shape=(n_chunks, DIM))
    svec = open_memmap(out / "sentence_vectors.npy", mode="w+", dtype=np.float32, shape=(n_sent, DIM))
    rng = np.random.default_rng([seed, 10**9])
    fact_chunks = np.sort(rng.choice(n_chunks, min(n_queries, n_chunks), replace=False))
    fact_set = {int(c): i for i, c in enumerate(fact_chunks)}
    queries, qvecs = [None] * len(fact_chunks), np.zeros((len(fact_chunks), DIM), np.float32)
    docs, c0 = [], 0
    with open(out / "chunks.jsonl", "w", encoding="utf-8") as fh:
        for d, size in enumerate(sizes):
            lang, topic, title, chunks, sent_vecs = _doc(vocab, seed, d, size)
            for j, ch in enumerate(chunks):
                ci = c0 + j
                if ci in fact_set:  # plant a fact in the middle sentence
                    qi = fact_set[ci]
                    frng = np.random.default_rng([seed, 7, ci])
                    ent = (
                        "".join(frng.choice(vocab.rare_zh, 3))
                        if lang == "zh"
                        else (
                            vocab.en[int(frng.integers(20_000, 30_000))] + vocab.en[int(frng.integers(20_000, 30_000))]
                        ).capitalize()
                    )
                    a = int(frng.integers(len(ATTRS_ZH)))
                    value = str(int(frng.integers(1900, 2100)))
                    if lang == "zh":
                        fact, q = f"{ent}的{ATTRS_ZH[a]}是{value}。", f"{ent}的{ATTRS_ZH[a]}是什么？"
                    else:
                        fact, q = f"The {ATTRS_EN[a]} of {ent} is {value}.", f"What is the {ATTRS_EN[a]} of {ent}?"
                    sents = [ch["text"][x:y] for x, y in ch["spans"]]
                    sents[1] = fact
                    sep = "" if lang == "zh" else " "
                    ch["text"] = sep.join(sents)
                    spans, pos = [], 0
                    for s in sents:
                        spans.append((pos, pos + len(s)))
                        pos += len(s) + len(sep)
                    ch["spans"] = spans
                    fvec = vocab.vectors(frng, 1, topic, lang)[0]
                    sent_vecs[j][1] = fvec
                    qvecs[qi] = _unit(fvec + Q_NOISE * _unit(frng.standard_normal(DIM)))
                    queries[qi] = {"question": q, "lang": lang, "chunk": ci, "answer": value, "doc": d}
                fh.write(
                    json.dumps(
                        {"doc": d, "section": ch["section"], "text": ch["text"], "spans": ch["spans"]},
                        ensure_ascii=False,
                    )
                    + "\n"
                )
            sv = np.concatenate(sent_vecs)
            svec[c0 * SENTS_PER_CHUNK : (c0 + size) * SENTS_PER_CHUNK] = sv
            cvec[c0 : c0 + size] = _unit(sv.reshape(size, SENTS_PER_CHUNK, DIM).mean(axis=1))
            docs.append({"doc_id": f"{lang}/{d:06d}.txt", "title": title, "lang": lang, "topic": topic, "chunks": size})
            c0 += size
    cvec.flush(), svec.flush()
    np.save(out / "query_vectors.npy", qvecs)
    (out / "queries.jsonl").write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in queries), "utf-8")
    (out / "docs.json").write_text(json.dumps(docs, ensure_ascii=False), "utf-8")
    gen_s = time.perf_counter() - t0
    # BM25 tokens with the real tokenizer (jieba for Chinese), on passage text = section + text
    t1 = time.perf_counter()
    texts = []
    with open(out / "chunks.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            texts.append(f"{r['section']}\n{r['text']}")
    terms: dict[str, int] = {}
    ids, offsets = [], [0]
    step = 2000
    with ProcessPoolExecutor(workers) as pool:
        for toks in pool.map(_tokenize_batch, [texts[i : i + step] for i in range(0, len(texts), step)]):
            for t in toks:
                row = [terms.setdefault(w, len(terms)) for w in (t or [""])]
                ids.append(np.asarray(row, np.int32))
                offsets.append(offsets[-1] + len(row))
    np.save(out / "tokens.npy", np.concatenate(ids))
    np.save(out / "token_offsets.npy", np.asarray(offsets, np.int64))
    (out / "terms.json").write_text(json.dumps(list(terms), ensure_ascii=False), "utf-8")
    means = {k: (W_LANG * v).astype(np.float32) for k, v in vocab.lang_dir.items()}
    np.savez(out / "lang_means.npz", **means)
    meta = {
        "chunks": n_chunks,
        "documents": n_docs,
        "sentences": n_sent,
        "dim": DIM,
        "seed": seed,
        "queries": len(queries),
        "generate_s": round(gen_s, 1),
        "tokenize_s": round(time.perf_counter() - t1, 1),
        "workers": workers,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1), "utf-8")
    return out


def tile(src: Path, out: Path, times: int, seed: int = 1) -> Path:
    """A corpus ``times`` the size of ``src``: its passages' texts and tokens repeated under new document
    ids, each repetition after the first with vectors drawn anew (same topics and languages); the
    questions and planted facts of ``src`` stay with the first copy. Generating and tokenising a
    million passages takes over an hour on a busy 2-core machine; this takes a minute or two, and
    term frequencies (so BM25 posting lengths) grow with the size as in a generated corpus."""
    from numpy.lib.format import open_memmap

    if (out / "meta.json").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    meta = json.loads((src / "meta.json").read_text("utf-8"))
    docs = json.loads((src / "docs.json").read_text("utf-8"))
    n, n_docs = meta["chunks"], len(docs)
    vocab = Vocab(meta["seed"])
    cvec = open_memmap(out / "chunk_vectors.npy", mode="w+", dtype=np.float32, shape=(n * times, DIM))
    svec = open_memmap(
        out / "sentence_vectors.npy", mode="w+", dtype=np.float32, shape=(n * times * SENTS_PER_CHUNK, DIM)
    )
    cvec[:n] = np.load(src / "chunk_vectors.npy", mmap_mode="r")
    svec[: n * SENTS_PER_CHUNK] = np.load(src / "sentence_vectors.npy", mmap_mode="r")
    sizes = np.array([d["chunks"] for d in docs])
    topic = np.repeat([d["topic"] for d in docs], sizes * SENTS_PER_CHUNK)
    lang_of = np.repeat([d["lang"] == "zh" for d in docs], sizes * SENTS_PER_CHUNK)
    rng = np.random.default_rng([seed, times])
    step = 60_000  # sentences per block (a multiple of SENTS_PER_CHUNK)
    for c in range(1, times):
        for a in range(0, n * SENTS_PER_CHUNK, step):
            b = min(a + step, n * SENTS_PER_CHUNK)
            langv = np.where(lang_of[a:b, None], vocab.lang_dir["zh"], vocab.lang_dir["en"])
            noise = _unit(rng.standard_normal((b - a, DIM)))
            v = _unit(
                W_GLOBAL * vocab.global_dir + W_TOPIC * vocab.topics[topic[a:b]] + W_LANG * langv + W_NOISE * noise
            )
            base = c * n * SENTS_PER_CHUNK
            svec[base + a : base + b] = v
            ca = a // SENTS_PER_CHUNK
            cvec[c * n + ca : c * n + ca + len(v) // SENTS_PER_CHUNK] = _unit(
                v.reshape(-1, SENTS_PER_CHUNK, DIM).mean(axis=1)
            )
    cvec.flush(), svec.flush()
    tiled_docs = [
        {**d, "doc_id": f"{d['lang']}/{c * n_docs + i:06d}.txt"} for c in range(times) for i, d in enumerate(docs)
    ]
    (out / "docs.json").write_text(json.dumps(tiled_docs, ensure_ascii=False), "utf-8")
    body = (src / "chunks.jsonl").read_bytes()
    with open(out / "chunks.jsonl", "wb") as fh:
        for _ in range(times):
            fh.write(body)
    tok, off = np.load(src / "tokens.npy"), np.load(src / "token_offsets.npy")
    np.save(out / "tokens.npy", np.tile(tok, times))
    np.save(out / "token_offsets.npy", np.concatenate([off[:1]] + [off[1:] + c * off[-1] for c in range(times)]))
    for name in ("terms.json", "queries.jsonl", "query_vectors.npy", "lang_means.npz"):
        (out / name).write_bytes((src / name).read_bytes())
    meta.update(
        chunks=n * times,
        documents=n_docs * times,
        sentences=meta["sentences"] * times,
        tiled_from=str(src),
        times=times,
        tile_s=round(time.perf_counter() - t0, 1),
    )
    (out / "meta.json").write_text(json.dumps(meta, indent=1), "utf-8")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--chunks", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--tile", type=Path, help="repeat this generated corpus instead (see tile())")
    ap.add_argument("--times", type=int, default=10)
    a = ap.parse_args()
    if a.tile:
        tile(a.tile, a.out, a.times)
    else:
        generate(a.out, a.chunks, a.seed, a.queries, a.workers)
    print((a.out / "meta.json").read_text())


if __name__ == "__main__":
    main()
