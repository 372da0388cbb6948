"""The library's citation graph: each reference entry matched to a document of the index (by DOI,
then by normalised title with year and first author, Chinese and English), else to an outside work
named by a stable key; edges from the citing document to either."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rag.ingest.references.parse import Reference, person


@dataclass(frozen=True)
class Work:
    """What the graph needs of one document of the index."""

    doc_id: str
    title: str
    authors: tuple[str, ...] = ()
    year: str = ""
    doi: str = ""


def norm_title(title: str) -> str:
    """A title compared across styles: NFKC, lower case, letters, digits and Han characters only."""
    t = unicodedata.normalize("NFKC", title).lower()
    return "".join(c for c in t if c.isalnum())


def norm_doi(doi: str) -> str:
    """A DOI compared: lower case, without a resolver prefix or trailing punctuation."""
    d = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", doi.strip().lower())
    return d.rstrip(".,;)")


def _family(name: str) -> str:
    p = person(name)
    return norm_title(p.family if not p.cjk else p.family)


def _authors_agree(ref: Reference, work: Work) -> bool:
    """The entry's first author is one of the document's authors (true when either side has none)."""
    if not ref.authors or not work.authors:
        return True
    first = _family(ref.authors[0])
    fams = {_family(a) for a in work.authors}
    return first in fams or any(first and (first in f or f in first) for f in fams if len(f) >= 2)


def outside_key(ref: Reference) -> str:
    """A stable key for a work outside the library: its DOI, else first author + year + title start."""
    if ref.doi:
        return "doi:" + norm_doi(ref.doi)
    first = _family(ref.authors[0]) if ref.authors else ""
    return f"ref:{first}:{ref.year}:{norm_title(ref.title)[:40]}"


def match(ref: Reference, works: Sequence[Work]) -> tuple[str, str] | None:
    """(doc_id, how) of the library document an entry names ("doi" or "title"), or None."""
    if ref.doi:
        d = norm_doi(ref.doi)
        for w in works:
            if w.doi and norm_doi(w.doi) == d:
                return w.doc_id, "doi"
    t = norm_title(ref.title)
    if len(t) < 6:
        return None
    for w in works:
        wt = norm_title(w.title)
        same = wt == t or (min(len(wt), len(t)) >= 12 and (wt.startswith(t) or t.startswith(wt)))
        if same and (not ref.year or not w.year or ref.year == w.year) and _authors_agree(ref, work=w):
            return w.doc_id, "title"
    return None


def build_edges(works: Sequence[Work], refs: Mapping[str, Sequence[Reference]]) -> list[dict]:
    """One edge per reference entry: {"source": citing doc, "target": doc id or outside key, "n": entry,
    "internal": whether the target is a document of the library, "match": doi|title|""}."""
    edges: list[dict] = []
    for doc_id, entries in refs.items():
        for r in entries:
            found = match(r, [w for w in works if w.doc_id != doc_id])
            target, how = found if found else (outside_key(r), "")
            edges.append({"source": doc_id, "target": target, "n": r.n, "internal": bool(found), "match": how})
    return edges


def graph(works: Sequence[Work], refs: Mapping[str, Sequence[Reference]], edges: Iterable[dict]) -> dict:
    """{"nodes": documents and the outside works they cite (with how often), "edges": [...]}."""
    edges = list(edges)
    outside: dict[str, Reference] = {}
    for entries in refs.values():
        for r in entries:
            outside.setdefault(outside_key(r), r)
    cited = Counter(e["target"] for e in edges)
    nodes = [
        {"id": w.doc_id, "kind": "document", "title": w.title, "year": w.year, "cited_by": cited[w.doc_id]}
        for w in works
    ]
    for key in sorted({e["target"] for e in edges if not e["internal"]}):
        ref = outside.get(key)
        nodes.append(
            {
                "id": key,
                "kind": "reference",
                "title": ref.title if ref else "",
                "year": ref.year if ref else "",
                "authors": list(ref.authors) if ref else [],
                "cited_by": cited[key],
            }
        )
    return {"nodes": nodes, "edges": edges}


def to_dot(g: dict) -> str:
    """The graph in Graphviz DOT."""

    def q(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'

    lines = ["digraph citations {"]
    for n in g["nodes"]:
        shape = "box" if n["kind"] == "document" else "ellipse"
        lines.append(f"  {q(n['id'])} [label={q(n['title'] or n['id'])}, shape={shape}];")
    for e in g["edges"]:
        lines.append(f"  {q(e['source'])} -> {q(e['target'])} [label={q(str(e['n']))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_graphml(g: dict) -> str:
    """The graph in GraphML (node kind, title and year as data keys)."""
    from xml.sax.saxutils import quoteattr

    def esc(s: str) -> str:
        return quoteattr(str(s))

    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">',
        '  <key id="kind" for="node" attr.name="kind" attr.type="string"/>',
        '  <key id="title" for="node" attr.name="title" attr.type="string"/>',
        '  <key id="year" for="node" attr.name="year" attr.type="string"/>',
        '  <key id="n" for="edge" attr.name="n" attr.type="string"/>',
        '  <graph id="citations" edgedefault="directed">',
    ]
    for n in g["nodes"]:
        out.append(f"    <node id={esc(n['id'])}>")
        for k in ("kind", "title", "year"):
            v = str(n.get(k, "")).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            out.append(f'      <data key="{k}">{v}</data>')
        out.append("    </node>")
    for i, e in enumerate(g["edges"]):
        n = str(e["n"]).replace("&", "&amp;").replace("<", "&lt;")
        out.append(
            f'    <edge id="e{i}" source={esc(e["source"])} target={esc(e["target"])}><data key="n">{n}</data></edge>'
        )
    out += ["  </graph>", "</graphml>"]
    return "\n".join(out) + "\n"
