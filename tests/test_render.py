"""The one way answers and references are written (rag/refs/render.py), which `rag ask`, the batch outputs
and the app share: labels, the plain-text answer with its sources, reference lists, Markdown forms."""

from __future__ import annotations

from rag.records import Answer, Chunk, Citation, Hit
from rag.refs.render import (
    Reference,
    answer_text,
    citation_label,
    citation_line,
    md_citation,
    md_reference,
    reference_list,
    source_label,
)

LONG = "长" * 200


def _cite(
    n: int, doc: str = "q.txt", title: str = "量子通信", section: str = "一、发展现状", quote: str = "句。"
) -> Citation:
    return Citation(n, doc, title, section, f"{doc}#{n}", f"前文。{quote}后文。", quote, 0.9)


def _hit(i: int, section: str = "一、发展现状", text: str = LONG) -> Hit:
    return Hit(Chunk(f"q.txt#{i}", "q.txt", "量子通信", section, text, 0, len(text)), 0.03, i)


def test_one_label_for_a_cited_passage():
    assert source_label("量子通信", "一、发展现状", "q.txt") == "量子通信 — §一、发展现状 (q.txt)"
    assert source_label("Cables", "", "b.md") == "Cables (b.md)"  # no section: no "§" at all
    assert citation_label(_cite(2)) == "[2] 量子通信 — §一、发展现状 (q.txt)"
    assert citation_line(_cite(1, section="")) == "[1] 量子通信 (q.txt): “句。”"


def test_plain_text_answer_with_its_sources():
    a = Answer("q", "句。[1]另一句。[2]", False, (_cite(1), _cite(2, section="", quote="另一句。")), (_hit(1),))
    assert answer_text(a).split("\n") == [
        "句。[1]另一句。[2]",
        "",
        "Sources",
        "[1] 量子通信 — §一、发展现状 (q.txt)",
        "    quote: “句。”",
        "    passage: 前文。句。后文。",
        "[2] 量子通信 (q.txt)",
        "    quote: “另一句。”",
        "    passage: 前文。另一句。后文。",
    ]
    assert answer_text(a, passages=False).split("\n") == [
        "句。[1]另一句。[2]",
        "",
        "Sources",
        "[1] 量子通信 — §一、发展现状 (q.txt)",
        "    quote: “句。”",
        "[2] 量子通信 (q.txt)",
        "    quote: “另一句。”",
    ]


def test_a_refusal_lists_the_three_closest_passages():
    a = Answer("q", "资料中没有找到答案。", True, (), (_hit(1), _hit(2, section=""), _hit(3), _hit(4)))
    assert answer_text(a).split("\n") == [
        "资料中没有找到答案。",
        "",
        "Closest passages (none answers the question):",
        f"  - 量子通信 — §一、发展现状 (q.txt): {'长' * 160}",
        f"  - 量子通信 (q.txt): {'长' * 160}",
        f"  - 量子通信 — §一、发展现状 (q.txt): {'长' * 160}",
    ]
    assert answer_text(a, passages=False).split("\n")[3:] == [
        "  - 量子通信 — §一、发展现状 (q.txt)",
        "  - 量子通信 (q.txt)",
        "  - 量子通信 — §一、发展现状 (q.txt)",
    ]


def test_reference_list_numbers_documents_once_in_order_of_first_citation():
    answers = [(_cite(1, "b.md", "B"), _cite(2, "a.md", "A")), (), (_cite(1, "a.md", "A"), _cite(2, "c.md", "C"))]
    assert reference_list(answers) == [
        Reference(1, "b.md", "B", ((1, 1),)),
        Reference(2, "a.md", "A", ((1, 2), (3, 1))),
        Reference(3, "c.md", "C", ((3, 2),)),
    ]
    # documents listed ahead keep their place and number, cited or not
    assert reference_list(answers, [("z.md", "Z"), ("a.md", "A")]) == [
        Reference(1, "z.md", "Z"),
        Reference(2, "a.md", "A", ((1, 2), (3, 1))),
        Reference(3, "b.md", "B", ((1, 1),)),
        Reference(4, "c.md", "C", ((3, 2),)),
    ]
    assert reference_list([(), ()]) == []


def test_markdown_forms():
    assert md_citation(_cite(3), 2) == "- [3] *量子通信* — §一、发展现状 (R2): “句。”"
    assert md_citation(_cite(1, section=""), 1) == "- [1] *量子通信* (R1): “句。”"
    assert (
        md_reference(Reference(2, "zh.txt", "数字丝绸之路"), ("李明", "王芳"))
        == "- R2. 李明, 王芳. 数字丝绸之路. `zh.txt`"
    )
    assert md_reference(Reference(1, "en.md", "Cables")) == "- R1. Cables. `en.md`"
