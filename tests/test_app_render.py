"""What the app page shows, rendered from real records: clickable markers, escaped text, the cited
sentence highlighted, abstentions with their closest passages, copy text and the Markdown export."""

from __future__ import annotations

import re

from app.export import answer_with_references, conversation_markdown
from app.render import (
    assistant_markdown,
    chat_messages,
    document_rows,
    highlighted,
    linkify,
    md_text,
    sources_html,
)
from app.service import Exchange
from rag.answer.conversation import Rewrite
from rag.index.store import DocInfo
from rag.records import Answer, Chunk, Citation, Hit

PASSAGE = "一、发展现状\n2016年8月，中国发射了“墨子号”<卫星>。2017年，京沪干线正式开通。"
QUOTE = "2016年8月，中国发射了“墨子号”<卫星>。"


def _hit(i: int, text: str = PASSAGE, doc: str = "q.txt") -> Hit:
    return Hit(Chunk(f"{doc}#{i}", doc, "量子通信", "一、发展现状", text, 0, len(text)), 0.03 - i / 1000, i, 0.8, 4.5)


def _answer(abstained: bool = False) -> Answer:
    hits = tuple(_hit(i) for i in range(1, 6))
    if abstained:
        return Answer("火星上有几座城市？", "资料中没有找到答案。", True, (), hits, {"total": 20.0})
    cites = (
        Citation(1, "q.txt", "量子通信", "一、发展现状", "q.txt#1", PASSAGE, QUOTE, 0.91),
        Citation(2, "q.txt", "量子通信", "一、发展现状", "q.txt#2", PASSAGE, "2017年，京沪干线正式开通。", 0.88),
    )
    return Answer("墨子号何时发射？", f"{QUOTE}[1]2017年，京沪干线正式开通。[2]", False, cites, hits, {"total": 20.0})


def test_markers_become_links_and_text_is_escaped():
    md = linkify("a <b>*x*</b> [y][1] end[12]", turn=3)
    assert md == (
        r'a &lt;b&gt;\*x\*&lt;/b&gt; \[y\]<a class="cite" href="#src-3-1" title="show source 1">[1]</a> end'
        r'<a class="cite" href="#src-3-12" title="show source 12">[12]</a>'
    )
    assert md_text("$x$ `c` # h | ~") == r"\$x\$ \`c\` \# h \| \~"


def test_cited_sentence_is_highlighted_and_escaped():
    assert highlighted(PASSAGE, QUOTE) == (
        '一、发展现状\n<mark class="quote">2016年8月，中国发射了“墨子号”&lt;卫星&gt;。</mark>2017年，京沪干线正式开通。'
    )
    assert highlighted("abc", "zzz") == "abc"


def test_sources_panel_shows_each_citation_with_its_quote_marked():
    ex = Exchange("墨子号何时发射？", Rewrite("墨子号何时发射？", "墨子号何时发射？"), _answer())
    html = sources_html([ex])
    cards = re.findall(r'<div class="passage" id="(src-0-\d)">.*?<mark class="quote">(.*?)</mark>', html, re.S)
    assert cards == [
        ("src-0-1", "2016年8月，中国发射了“墨子号”&lt;卫星&gt;。"),
        ("src-0-2", "2017年，京沪干线正式开通。"),
    ]
    assert '<section class="turn current" id="turn-0">' in html
    assert "§ 一、发展现状 · <code>q.txt</code>" in html and "p-scores" not in html
    scored = sources_html([ex], show_scores=True)
    assert "sentence 0.910 · rank 1 · fused 0.0290 · dense 0.800 · bm25 4.50" in scored
    assert "All 5 retrieved passages" in scored


def test_only_the_latest_answer_is_current():
    exs = [
        Exchange("q1", None, _answer()),
        Exchange("q2", error="the question is empty"),
        Exchange("q3", None, _answer()),
    ]
    html = sources_html(exs)
    assert html.count('class="turn current"') == 1 and '<section class="turn current" id="turn-2">' in html
    assert '<section class="turn" id="turn-0">' in html and "turn-1" not in html


def test_abstention_is_shown_as_such_with_the_closest_passages():
    ex = Exchange("火星上有几座城市？", None, _answer(abstained=True))
    msg = assistant_markdown(ex, 0)
    assert msg.startswith('<span class="abstain">资料中没有找到答案。</span>')
    assert "最接近的段落列在右侧" in msg and "cite" not in msg
    html = sources_html([ex])
    assert "Closest passages — none of them answers the question" in html
    assert re.findall(r'id="(src-0-c\d)"', html) == ["src-0-c1", "src-0-c2", "src-0-c3"]
    assert "<mark" not in html


def test_chat_messages_stream_then_settle():
    ex = Exchange("a?", Rewrite("a?", "X a?", "prepend", "X"), _answer())
    pending = chat_messages([ex], ("它呢？", QUOTE + "[1]"))
    assert [m["role"] for m in pending] == ["user", "assistant", "user", "assistant"]
    assert pending[3]["content"].endswith('href="#src-1-1" title="show source 1">[1]</a> ▍')
    assert chat_messages([], ("q", ""))[1]["content"] == "…"
    settled = chat_messages([ex])
    assert settled[1]["content"].endswith('<span class="searched">searched for: X a?</span>')
    err = assistant_markdown(Exchange("x" * 5000, error="the question is 5000 characters long; keep it under 2000"), 0)
    assert err == '<span class="rag-error">⚠️ the question is 5000 characters long; keep it under 2000</span>'
    assert chat_messages([Exchange("x" * 5000, error="e")])[0]["content"].endswith("… (5000 characters)")


def test_copy_text_and_markdown_export_carry_the_references():
    ex = Exchange("墨子号何时发射？", Rewrite("它呢？", "墨子号何时发射？", "substitute", "墨子号"), _answer())
    assert answer_with_references(ex).splitlines() == [
        f"{QUOTE}[1]2017年，京沪干线正式开通。[2]",
        "",
        "Sources",
        "[1] 量子通信 — §一、发展现状 (q.txt)",
        f"    quote: “{QUOTE}”",
        "[2] 量子通信 — §一、发展现状 (q.txt)",
        "    quote: “2017年，京沪干线正式开通。”",
    ]
    refusal = Exchange("火星？", None, _answer(abstained=True))
    assert answer_with_references(refusal).splitlines() == [
        "资料中没有找到答案。",
        "",
        "Closest passages (none answers the question):",
        "  - 量子通信 — §一、发展现状 (q.txt)",
        "  - 量子通信 — §一、发展现状 (q.txt)",
        "  - 量子通信 — §一、发展现状 (q.txt)",
    ]
    assert answer_with_references(Exchange("", error="empty")) == ""
    other = Citation(1, "b.md", "Cables", "", "b.md#1", "Cables break.", "Cables break.", 0.9)
    cables = Exchange("Cables?", None, Answer("Cables?", "Cables break.[1]", False, (other,), (_hit(1),)))
    docs = {
        "q.txt": DocInfo("q.txt", "/x/q.txt", "量子通信", ("张伟",), "h", 10, 4, 0),
        "b.md": DocInfo("b.md", "/x/b.md", "Cables", (), "h", 10, 1, 0),
        "c.md": DocInfo("c.md", "/x/c.md", "C", (), "h", 1, 1, 0),
    }
    md = conversation_markdown([cables, ex, refusal, Exchange("", error="empty")], "default", docs)
    assert md.startswith("# Conversation with rag\n\nIndex `default` (3 documents) · exported ")
    assert md.split("\n", 4)[4] == "\n".join(
        [
            "## Q1. Cables?",
            "",
            "Cables break.[1]",
            "",
            "Sources:",
            "",
            "- [1] *Cables* (R1): “Cables break.”",
            "",
            "## Q2. 墨子号何时发射？",
            "",
            "*searched for: 墨子号何时发射？*",
            "",
            f"{QUOTE}[1]2017年，京沪干线正式开通。[2]",
            "",
            "Sources:",
            "",
            f"- [1] *量子通信* — §一、发展现状 (R2): “{QUOTE}”",
            "- [2] *量子通信* — §一、发展现状 (R2): “2017年，京沪干线正式开通。”",
            "",
            "## Q3. 火星？",
            "",
            "资料中没有找到答案。",
            "",
            "Closest passages (none answers the question):",
            "",
            "- 量子通信 — §一、发展现状 (q.txt)",
            "- 量子通信 — §一、发展现状 (q.txt)",
            "- 量子通信 — §一、发展现状 (q.txt)",
            "",
            "## Q4. ",
            "",
            "> empty",
            "",
            "## References",
            "",
            "- R1. Cables. `b.md` — cited in Q1[1]",
            "- R2. 张伟. 量子通信. `q.txt` — cited in Q2[1], Q2[2]",
            "",
        ]
    )


def test_document_rows_in_both_languages():
    from app.library import doc_row
    from app.render import document_headers
    from rag.records import Bib, Chunk

    d = DocInfo("a.pdf", "/x/a.pdf", "Title", ("A", "B"), "h", 10, 4, 1, 1000, 250, bib=Bib(year="2020"), library=Bib())
    chunks = [
        Chunk("a.pdf#0", "a.pdf", "Title", "", "x", 0, 1, page="1-2"),
        Chunk("a.pdf#1", "a.pdf", "", "", "y", 1, 2, page="3", ocr=0.9),
    ]
    row = doc_row(d, chunks, uploaded=True, edited=True)
    assert document_rows([row]) == [
        [
            "a.pdf",
            "Title",
            "A, B",
            "2020",
            3,
            4,
            "25% dropped as page furniture; 1 passages read by OCR; 1 footnotes",
            "PDF · uploaded · edited",
        ]
    ]
    assert document_rows([row], "zh")[0][6] == "25% 作为页眉页脚删去; 1 个段落经 OCR 识别; 1 条脚注"
    assert document_headers("zh")[:3] == ["文件", "题名", "作者"]
    bib = doc_row(DocInfo("b.md", "/x/b.md", "", (), "h", 1, 1, 0, library=Bib(source="bibtex")), [], False, False)
    assert document_rows([bib])[0][4:] == ["", 1, "", ".bib"]


def test_copy_text_and_export_in_a_citation_style_and_answers_for_rag_refs(tmp_path):
    from app.export import conversation_jsonl
    from rag.records import Bib, Person
    from rag.refs.bibexport import cited_works, read_answers

    bib = Bib(
        type="article-journal",
        title="量子通信",
        authors=(Person("张伟"),),
        year="2021",
        journal="通信学报",
        volume="42",
        issue="3",
        pages="15-24",
        source="zotero",
    )
    cite = Citation(1, "q.txt", "量子通信", "一、发展现状", "q.txt#1", PASSAGE, QUOTE, 0.91, bib=bib)
    ex = Exchange("墨子号何时发射？", None, Answer("墨子号何时发射？", f"{QUOTE}[1]", False, (cite,), (_hit(1),)))
    assert answer_with_references(ex, "gbt7714").splitlines() == [
        f"{QUOTE}[1]",
        "",
        "Sources",
        "[1] 张伟. 量子通信[J]. 通信学报, 2021, 42(3): 15-24.",
        "    section: 一、发展现状",
        f"    quote: “{QUOTE}”",
    ]
    docs = {"q.txt": DocInfo("q.txt", "/x/q.txt", "量子通信", ("张伟",), "h", 10, 4, 0, bib=bib)}
    md = conversation_markdown([ex], "default", docs, "apa")
    assert md.endswith("## References\n\n- R1. 张伟. (2021). 量子通信. *通信学报, 42*(3), 15–24. — cited in Q1[1]\n")
    (tmp_path / "c.jsonl").write_text(conversation_jsonl([ex, Exchange("", error="empty")]), "utf-8")
    assert cited_works(read_answers(tmp_path / "c.jsonl")) == [("q.txt", bib)]


def test_citations_markdown_shows_cites_cited_by_and_the_most_cited_outside_works():
    from app.render import citations_markdown

    graph = {
        "nodes": [
            {"id": "a.txt", "kind": "document", "title": "Paper A", "year": "", "cited_by": 0},
            {"id": "b.txt", "kind": "document", "title": "Paper *B*", "year": "", "cited_by": 1},
            {"id": "doi:10.1/x", "kind": "reference", "title": "Outside X", "year": "2009", "cited_by": 2},
            {"id": "ref:y:2001:y", "kind": "reference", "title": "Outside Y", "year": "2001", "cited_by": 1},
        ],
        "edges": [
            {"source": "a.txt", "target": "b.txt", "n": "1", "internal": True, "match": "doi"},
            {"source": "a.txt", "target": "doi:10.1/x", "n": "2", "internal": False, "match": ""},
            {"source": "b.txt", "target": "doi:10.1/x", "n": "1", "internal": False, "match": ""},
            {"source": "b.txt", "target": "ref:y:2001:y", "n": "2", "internal": False, "match": ""},
        ],
    }
    assert citations_markdown(graph).split("\n") == [
        "### Citations within the library",
        "",
        "- **Paper A (a.txt)**: 2 references; cites Paper \\*B\\* (b.txt); cited by none",
        "- **Paper \\*B\\* (b.txt)**: 2 references; cites no document of the library; cited by Paper A (a.txt)",
        "",
        "### Most-cited works outside the library",
        "",
        "1. Outside X (2009) — cited 2×",
        "2. Outside Y (2001) — cited 1×",
        "",
    ]
    assert citations_markdown({"nodes": [], "edges": []}) == ""
