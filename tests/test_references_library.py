"""A small library whose papers cite each other (by DOI and by title, English and Chinese): the edges
found are exactly the known ones and stay current on updates and removals; `rag refs`, `rag info`,
the exports, and answers that carry the references their passages cite."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import bibtexparser
import pytest
import rispy
from conftest import rag_cli

from rag.answer.pipeline import Assistant
from rag.index.store import build_index, load_index, remove_documents
from rag.refs.render import answer_text
from rag.settings import load_settings

pytestmark = pytest.mark.slow  # builds real indexes

DOCS = {
    "a_dense.txt": """Dense Passage Retrieval for Small Libraries

Alice Martin, Bo Chen

DOI: 10.5555/lib.2021.001

Abstract: We study dense retrieval for small personal libraries of scholarly papers and compare it with sparse term matching on several collections.

1 Introduction

Sparse retrieval remains a strong baseline [1]. Query expansion raised recall on short queries by twelve points [2]. Our earlier survey of reading tools motivated this study [3].

2 Method

We embed passages with a small multilingual encoder and fuse its ranking with keyword scores.

References

[1] S. Robertson and H. Zaragoza, "The probabilistic relevance framework: BM25 and beyond," Found. Trends Inf. Retr., vol. 3, no. 4, pp. 333–389, 2009, doi: 10.1561/1500000019.
[2] Chen B, Martin A. Expanding short queries with translated dictionaries[J]. Journal of Library Systems, 2019, 12(3): 45-60. DOI:10.5555/lib.2019.002.
[3] Wang L, Martin A. A survey of reading tools for scholars[J]. Information Practice, 2018, 7(2): 1-20.
""",
    "b_expansion.txt": """Expanding Short Queries with Translated Dictionaries

Bo Chen, Alice Martin

DOI: 10.5555/lib.2019.002

Abstract: Short queries miss relevant passages when the words of the question and of the text differ, so we expand queries with bilingual dictionaries and measure recall.

1 Introduction

Reading tools for scholars rarely expand queries (Wang and Martin, 2018). Expansion by relevance feedback is a classic method (Rocchio, 1971).

References

Rocchio, J. J. (1971). Relevance feedback in information retrieval. In The SMART Retrieval System (pp. 313–323). Prentice Hall.
Wang, L., & Martin, A. (2018). A survey of reading tools for scholars. Information Practice, 7(2), 1–20.
""",
    "c_survey.txt": """A Survey of Reading Tools for Scholars

Li Wang, Alice Martin

Abstract: Scholars read and annotate many papers, and the tools they use for this differ in how they store notes, search text and export references to a manager.

1 Introduction

Reference managers store bibliographic records and attachments. Few of them search the full text of the papers they hold.
""",
    "d_zh.txt": """面向个人文献库的跨语言检索

赵敏 孙强

摘要：个人文献库中的中英文论文混杂，读者用中文提问时常常找不到英文论文中的答案，本文比较了几种跨语言检索方法的召回率。

一、引言

王立等人比较了数字图书馆的几种检索方法[1]，稠密检索在小型文献库上同样有效[2]。另有研究综述了检索方法[3]。

参考文献

[1] 王立, 刘明. 数字图书馆的检索方法研究[J]. 图书馆学刊, 2020, 3(2): 1-9.
[2] Martin A, Chen B. Dense passage retrieval for small libraries[J]. Library Computing, 2021, 5(1): 10-19. DOI:10.5555/lib.2021.001.
[3] 张华. 数字图书馆的检索方法综述[J]. 情报杂志, 2017, 8(1): 20-28.
""",
    "e_zh.txt": """数字图书馆的检索方法研究

王立 刘明

摘要：数字图书馆的检索方法多种多样，本文比较了关键词检索、主题检索和语义检索在三个馆藏上的效果与适用场景。

一、引言

关键词检索仍是数字图书馆最常用的方法，但语义检索在长问题上表现更好。
""",
}
KNOWN = {
    ("a_dense.txt", "b_expansion.txt", "doi"),
    ("a_dense.txt", "c_survey.txt", "title"),
    ("b_expansion.txt", "c_survey.txt", "title"),
    ("d_zh.txt", "e_zh.txt", "title"),
    ("d_zh.txt", "a_dense.txt", "doi"),
}


def _internal(edges: list[dict]) -> set[tuple[str, str, str]]:
    return {(e["source"], e["target"], e["match"]) for e in edges if e["internal"]}


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("library")
    corpus = root / "papers"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, "utf-8")
    settings = load_settings(index_dir=root / "index", cache_dir=root / "cache")
    build_index([corpus], settings)
    return root, corpus, settings


def test_edges_found_are_the_known_ones(library):
    _, _, settings = library
    refs = load_index(settings, check_embedder=False).references
    assert {d: len(v) for d, v in refs["docs"].items()} == {"a_dense.txt": 3, "b_expansion.txt": 2, "d_zh.txt": 3}
    assert _internal(refs["edges"]) == KNOWN
    # the near-miss (same words, another title and author) and the outside works are not library documents
    outside = sorted(e["target"] for e in refs["edges"] if not e["internal"])
    assert outside == [
        "doi:10.1561/1500000019",
        "ref:rocchio:1971:relevancefeedbackininformationretrieval",
        "ref:张华:2017:数字图书馆的检索方法综述",
    ]


def test_edges_follow_removals_and_updates(library, tmp_path):
    root, corpus, settings = library
    s = load_settings(index_dir=tmp_path / "index", cache_dir=root / "cache")
    build_index([corpus], s)
    remove_documents(["c_survey.txt"], s)
    edges = load_index(s, check_embedder=False).references["edges"]
    assert _internal(edges) == {k for k in KNOWN if k[1] != "c_survey.txt"}
    assert not any(e["source"] == "c_survey.txt" or e["target"] == "c_survey.txt" for e in edges)
    # a changed document's list is read again: d_zh.txt no longer cites e_zh.txt
    changed = tmp_path / "papers"
    changed.mkdir()
    for name, text in DOCS.items():
        if name != "c_survey.txt":
            (changed / name).write_text(
                text.replace("[1] 王立, 刘明. 数字图书馆的检索方法研究", "[1] 王立, 刘明. 另一题名"), "utf-8"
            )
    build_index([changed], s)
    edges = load_index(s, check_embedder=False).references["edges"]
    assert _internal(edges) == {k for k in KNOWN if k[1] not in ("c_survey.txt", "e_zh.txt")}
    # and with every document back, the graph is the full build's
    build_index([corpus], s)
    assert load_index(s, check_embedder=False).references == load_index(settings, check_embedder=False).references


def test_references_json_is_checked_like_every_other_file(library, tmp_path):
    root, corpus, _ = library
    s = load_settings(index_dir=tmp_path / "index", cache_dir=root / "cache")
    build_index([corpus], s)
    assert "references.json" in json.loads((s.index_path / "params.json").read_text("utf-8"))["files"]
    env = {"RAG_INDEX_DIR": str(tmp_path / "index")}
    assert rag_cli("verify", cwd=tmp_path, env=env).returncode == 0
    f = s.index_path / "references.json"
    f.write_text(f.read_text("utf-8").replace("Robertson", "Robertsen"), "utf-8")
    bad = rag_cli("verify", cwd=tmp_path, env=env)
    assert bad.returncode == 1 and "references.json" in bad.stdout + bad.stderr


def test_cli_refs_of_a_document_and_the_graph(library):
    root, _, settings = library
    env = {"RAG_INDEX_DIR": str(root / "index")}
    of = rag_cli("refs", "--of", "a_dense.txt", "--json", cwd=root, env=env)
    assert of.returncode == 0, of.stderr
    entries = json.loads(of.stdout)
    assert [(e["n"], e["year"], e["doi"], e.get("target")) for e in entries] == [
        ("1", "2009", "10.1561/1500000019", None),
        ("2", "2019", "10.5555/lib.2019.002", "b_expansion.txt"),
        ("3", "2018", "", "c_survey.txt"),
    ]
    assert entries[1]["authors"] == ["Chen B", "Martin A"]
    assert entries[1]["title"] == "Expanding short queries with translated dictionaries"
    g = json.loads(rag_cli("refs", "--graph", "--json", cwd=root, env=env).stdout)
    assert _internal(g["edges"]) == KNOWN
    docs = {n["id"]: n for n in g["nodes"] if n["kind"] == "document"}
    assert set(docs) == set(DOCS) and docs["c_survey.txt"]["cited_by"] == 2
    gml = ET.fromstring(rag_cli("refs", "--graph", "--format", "graphml", cwd=root, env=env).stdout)
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    assert len(gml.findall(".//g:edge", ns)) == len(g["edges"]) == 8
    dot = rag_cli("refs", "--graph", "--format", "dot", cwd=root, env=env).stdout
    assert dot.startswith("digraph citations {") and '"d_zh.txt" -> "e_zh.txt"' in dot
    info = json.loads(rag_cli("info", "--json", cwd=root, env=env).stdout)
    assert info["references"] == {
        "entries": 8,
        "documents_with_references": 3,
        "citations_within_library": 5,
        "citations_outside": 3,
    }
    bad = rag_cli("refs", "--of", "missing.txt", "--json", cwd=root, env=env)
    assert bad.returncode == 1 and bad.stderr.strip() == (
        "error: no document 'missing.txt' in the index; `rag info` lists the documents"
    )


def test_exports_of_a_papers_references(library, tmp_path):
    root, _, _ = library
    env = {"RAG_INDEX_DIR": str(root / "index")}

    def export(fmt: str, *scope: str) -> str:
        r = rag_cli("refs", *scope, "--format", fmt, cwd=root, env=env)
        assert r.returncode == 0, r.stderr
        return r.stdout

    bib = bibtexparser.parse_string(export("bibtex", "--of", "d_zh.txt"))
    assert [e.fields_dict["title"].value for e in bib.entries] == [
        "数字图书馆的检索方法研究",
        "Dense passage retrieval for small libraries",
        "数字图书馆的检索方法综述",
    ]
    ris = rispy.loads(export("ris", "--of", "a_dense.txt"))
    assert [r.get("doi", "") for r in ris] == ["10.1561/1500000019", "10.5555/lib.2019.002", ""]
    csl = json.loads(export("csl-json", "--all"))
    assert len(csl) == 7  # 8 entries, the survey cited twice counted once
    gbt = export("gbt7714", "--of", "d_zh.txt").splitlines()
    assert gbt[0] == "[1] 王立, 刘明. 数字图书馆的检索方法研究[J]. 图书馆学刊, 2020, 3(2): 1-9."
    apa = export("apa", "--of", "b_expansion.txt").splitlines()
    assert (
        apa[1]
        == "[2] Wang, L., & Martin, A. (2018). A survey of reading tools for scholars. Information Practice, 7(2), 1–20."
    )


def test_answers_carry_the_references_their_passages_cite(library):
    _, _, settings = library
    assistant = Assistant.open(settings)
    ans = assistant.ask("By how many points did query expansion raise recall on short queries?")
    assert not ans.abstained
    cited = [c for c in ans.citations if c.doc == "a_dense.txt"]
    assert cited, ans.citations
    refs = [r for c in cited for r in c.refs]
    assert {"n": "2", "target": "b_expansion.txt"}.items() <= next(r for r in refs if r["n"] == "2").items()
    assert ans.to_dict()["citations"][0]["refs"] == [dict(r) for r in ans.citations[0].refs]
    assert (
        "    rests on ref. 2: Chen B, Martin A. Expanding short queries with translated dictionaries[J]. Journal of "
        "Library Systems, 2019, 12(3): 45-60. DOI:10.5555/lib.2019.002. (b_expansion.txt)"
    ) in answer_text(ans).split("\n")


def test_reference_entries_are_evidence_only_when_asked_for(library):
    _, _, settings = library
    q = "Who wrote The probabilistic relevance framework: BM25 and beyond?"
    for mode in ("off", "auto", "on"):
        assistant = Assistant.open(settings.model_copy(update={"reference_evidence": mode}))
        ans = assistant.ask(q)
        index = assistant.retriever.index
        kinds = {index.chunks[index.position(c.chunk_id)].kind for c in ans.citations}
        # a passage that may not be evidence takes no slot of the top k (it is searched when it may be)
        assert any(h.chunk.kind == "reference" for h in ans.retrieved) == (mode == "on")
        if mode == "on":
            assert "reference" in kinds
        else:
            assert "reference" not in kinds
    asked = Assistant.open(settings).ask("Which work by Robertson does the paper cite on BM25?")
    index = load_index(settings, check_embedder=False)
    assert any(index.chunks[index.position(c.chunk_id)].kind == "reference" for c in asked.citations)
