"""Updates in time proportional to the change: a new index generation that hard-links the current one's
segments, adds one small segment for new and changed documents, and drops removed documents from the
row map (their rows stay in their segment, deleted); BM25 statistics and language centroids are
updated from the changed rows only, and the glossary costs the new words only (the new segment's
``glossary.json`` holds their contribution, ``rag.lang.glossary``; a removal writes nothing for it).
Segments are merged back into one (the full write) when there are too many, too many deleted rows, or
the index is small (``segment_fits``)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np

from rag import __version__
from rag.index.bm25 import Terms, build_bm25, load_bm25
from rag.index.dense import backend_for
from rag.index.dense.base import FLAT_MAX
from rag.index.embedding import LANGS
from rag.index.integrity import PARAMS, manifest, params_text, restamp, write_marker
from rag.index.store.boxes import write_boxes
from rag.index.store.layout import BuildReport, Progress, write_docs
from rag.index.store.reader import StoredIndex
from rag.index.store.refs import write_references
from rag.index.store.segments import SEG_DIR, SEGMENT_FILES, segment_layout
from rag.index.store.swap import swap
from rag.index.store.writer import Part, fixed_sum, mean_of, write_parts
from rag.lang.glossary import contribution, save_contribution
from rag.settings import Settings


def segment_fits(old: StoredIndex | None, parts: list[Part], settings: Settings) -> bool:
    """Whether ``parts`` can be written as a segment update of ``old`` rather than a full rewrite."""
    if old is None or settings.store.backend != "faiss" or old.params["dense"]["backend"] != "faiss":
        return False
    live = sum(p.n_chunks for p in parts)
    kept = {p.seg for p in parts if p.old}
    new_rows = sum(p.n_chunks for p in parts if not p.old)
    total = sum(old.segments[s].n for s in kept) + new_rows
    kind = backend_for(settings).plan(live, old.dim, settings).kind
    with np.load(old.path / "languages.npz") as z:
        sums = "sum_en" in z.files  # indexes written before sums were kept are merged once
    return (
        sums
        and live >= settings.store.merge_min_passages
        and old.params["dense"].get("requested") == settings.store.dense_index
        and kind == old.params["dense"]["kind"]
        and len(kept) + bool(new_rows) <= settings.store.merge_max_segments
        and total - live <= settings.store.merge_deleted_share * total
        and (kind == "flat" or new_rows <= FLAT_MAX)  # a new segment is searched exactly
    )


def write_generation(
    target: Path,
    parts: list[Part],
    old: StoredIndex,
    settings: Settings,
    report: BuildReport,
    progress: Progress | None,
) -> None:
    """Write the next generation of ``target`` into a temp dir (segments linked, one added), swap it in,
    then record the linked files' new stat stamps (still under the writer's lock)."""
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write_marker(tmp)
    try:
        params = _fill(tmp, parts, old, report, progress)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old.close()
    swap(tmp, target)
    params["files"] = restamp(target, params["files"])
    fresh = target / f"{PARAMS}.new"
    with open(fresh, "w", encoding="utf-8") as fh:
        fh.write(params_text(params))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(fresh, target / PARAMS)


def _link_segment(src: Path, dst: Path, rel_src: str, rel_dst: str, files: dict, carried: dict) -> None:
    """Hard-link a segment's files (``SEGMENT_FILES`` and bm25/) from ``src`` into ``dst``, carrying
    their manifest entries over (a one-segment index's top level holds more: only these are linked)."""
    names = [n for n in SEGMENT_FILES if (src / n).is_file()]
    names += [f"bm25/{f.name}" for f in sorted((src / "bm25").iterdir()) if f.is_file()]
    (dst / "bm25").mkdir(parents=True)
    for rel in names:
        os.link(src / rel, dst / rel)
        carried[f"{rel_dst}{rel}"] = files[f"{rel_src}{rel}"]


def _df(tokens: np.ndarray, offsets: np.ndarray, a: int, b: int, n_terms: int) -> np.ndarray:
    """Document frequency per term id over passages a..b-1."""
    ids = np.asarray(tokens[int(offsets[a]) : int(offsets[b])], np.int64)
    doc = np.repeat(np.arange(b - a, dtype=np.int64), np.diff(offsets[a : b + 1]))
    pairs = np.unique(doc * n_terms + ids)
    return np.bincount(pairs % n_terms, minlength=n_terms).astype(np.int64)


def _old_df(old: StoredIndex) -> tuple[np.ndarray, int]:
    """Live document frequency per term id and total passage length of the current index."""
    if old.segmented:
        return np.load(old.path / "bm25_df.npy"), int(old.params["bm25"]["total_len"])
    base = load_bm25(old.path / "bm25")  # the arrays alone (bm25s itself would import scipy)
    indptr = np.asarray(base.scores["indptr"])
    df = np.zeros(len(old.terms.terms), np.int64)
    ids = old.terms.ids
    for term, col in base.vocab_dict.items():
        if col + 1 < len(indptr) and term in ids:
            df[ids[term]] = indptr[col + 1] - indptr[col]
    return df, int(old.segments[0].tok_offsets[-1])


def _lang_update(sums: dict, counts: dict, vectors: np.ndarray, langs: np.ndarray, a: int, sign: int) -> None:
    for i, k in enumerate(LANGS):
        rows = a + np.flatnonzero(langs == i)
        if len(rows):
            sums[k] += sign * fixed_sum(vectors, rows)
            counts[k] += sign * len(rows)


def _new_segment(d: Path, new: list[Part], old: StoredIndex, progress: Progress | None) -> tuple[Terms, dict]:
    """Write the added documents as one segment into ``d``; returns the extended term list and counts."""
    d.mkdir(parents=True)
    arrays = write_parts(d, new, old, old.dim)
    chunk_lang = np.load(d / "chunk_lang.npy")
    np.savez(d / "languages.npz", chunk_lang=chunk_lang, sent_lang=np.load(d / "sent_lang.npy"))
    for name in ("chunk_lang.npy", "sent_lang.npy", "chunk_docs.npy"):
        os.remove(d / name)
    np.save(d / "vector_ids.npy", np.arange(arrays["chunks"], dtype=np.int64))
    if progress:
        progress("indexing BM25", 0, 1)
    bm = build_bm25(np.load(d / "tokens.npy"), np.load(d / "token_offsets.npy"), arrays["terms"])
    bm.save(str(d / "bm25"), show_progress=False)
    np.save(d / "bm25_tf.npy", bm.tf)
    save_contribution(contribution(bm.vocab_dict), d / "glossary.json")  # the new words' part of the glossary
    return arrays["terms"], arrays


def _fill(tmp: Path, parts: list[Part], old: StoredIndex, report: BuildReport, progress: Progress | None) -> dict:
    """Write the next generation's files into ``tmp``; returns the params.json written there (unsealed)."""
    if progress:
        progress("writing index", 0, 1)
    names = segment_layout(old.params)[0] if old.segmented else ["0"]
    files = old.params["files"]
    carried: dict[str, dict] = {}
    kept = sorted({p.seg for p in parts if p.old})
    for s in kept:
        prefix = f"{SEG_DIR}/{names[s]}/"
        src_prefix = prefix if old.segmented else ""
        _link_segment(old.segments[s].path, tmp / SEG_DIR / names[s], src_prefix, prefix, files, carried)
    new = [p for p in parts if not p.old]
    new_names = [names[s] for s in kept]
    seg_of = {s: i for i, s in enumerate(kept)}
    df, total_len = _old_df(old)
    with np.load(old.path / "languages.npz") as z:
        means = {k: z[f"mean_{k}"] for k in LANGS}
        sums = {k: z[f"sum_{k}"].astype(np.int64) for k in LANGS}
        counts = {k: int(z[f"count_{k}"]) for k in LANGS}
    live = {(p.seg, p.old) for p in parts if p.old}
    for i in range(len(old.docs)):
        s, (a, b) = old.doc_segment(i), old.doc_range(i)
        if (s, (a, b)) not in live:  # removed or changed: its rows are deleted
            seg = old.segments[s]
            df -= _df(seg.tokens, seg.tok_offsets, a, b, len(df))
            total_len -= int(seg.tok_offsets[b] - seg.tok_offsets[a])
            _lang_update(sums, counts, seg.vectors, seg.chunk_lang[a:b], a, -1)
    terms, locs = old.terms, []
    if new:
        name = str(max(int(n) for n in names) + 1)
        terms, arrays = _new_segment(tmp / SEG_DIR / name, new, old, progress)
        d = tmp / SEG_DIR / name
        toks, offs = np.load(d / "tokens.npy"), np.load(d / "token_offsets.npy")
        df = np.concatenate([df, np.zeros(len(terms.terms) - len(df), np.int64)])
        df += _df(toks, offs, 0, len(offs) - 1, len(df))
        total_len += int(offs[-1])
        with np.load(d / "languages.npz") as z:
            _lang_update(sums, counts, np.load(d / "chunk_vectors.npy", mmap_mode="r"), z["chunk_lang"], 0, 1)
        new_names.append(name)
    c = 0
    for p in parts:
        if p.old:
            locs.append([seg_of[p.seg], p.old[0], p.old[1]])
        else:
            locs.append([len(new_names) - 1, c, c + p.n_chunks])
            c += p.n_chunks
    if terms is old.terms:
        os.link(old.path / "terms.json", tmp / "terms.json")
        carried["terms.json"] = files["terms.json"]
    else:
        terms.save(tmp / "terms.json")
    np.save(tmp / "bm25_df.npy", df)
    langs: dict[str, np.ndarray] = {f"mean_{k}": means[k] for k in LANGS}
    for k in LANGS:
        langs.update({f"sum_{k}": sums[k], f"count_{k}": np.array(counts[k], np.int64)})
        langs[f"centroid_{k}"] = mean_of(sums[k], counts[k])
    np.savez(tmp / "languages.npz", **langs)  # type: ignore[arg-type]
    infos = [p.info for p in parts]
    write_docs(tmp, [old.doc_entry(i) for i in infos])
    write_references(tmp, parts, old.path)
    write_boxes(tmp, parts, old.path)
    n_chunks = sum(p.n_chunks for p in parts)
    n_sents = sum(_sentences(p, old) for p in parts)
    # "sources" (doc_id -> sha256, a copy of docs.json's) was dropped from params.json: not carried
    params = {k: v for k, v in old.params.items() if k not in ("files", "params_checksum", "sources")}
    params.update(
        rag_version=__version__,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        counts={"documents": len(infos), "chunks": n_chunks, "sentences": n_sents},
        segments={"names": new_names, "docs": locs},
    )
    params["bm25"] = {**old.params["bm25"], "total_len": int(total_len)}
    params["dense"] = {**old.params["dense"], "stored": n_chunks, "updated_in_place": False}
    for f in tmp.rglob("*"):
        if f.is_file() and f.relative_to(tmp).as_posix() not in carried:
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    params["files"] = {**manifest(tmp, frozenset(carried)), **restamp(tmp, carried)}
    (tmp / PARAMS).write_text(params_text(params), "utf-8")
    report.sentences = n_sents
    report.dense = f"faiss:{params['dense']['kind']}"
    return params


def _sentences(p: Part, old: StoredIndex) -> int:
    if p.old:
        starts = old.segments[p.seg].sent_starts
        return int(starts[p.old[1]] - starts[p.old[0]])
    assert p.sent_rows is not None  # a new document has its sentence rows
    return len(p.sent_rows)
