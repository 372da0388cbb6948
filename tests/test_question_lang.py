"""The language of a question is that of its own wording, not of the names it quotes."""

from __future__ import annotations

import json
from pathlib import Path

from rag.lang.text import detect_lang, question_lang

ROOT = Path(__file__).resolve().parents[1]


def test_a_bracketed_latin_name_does_not_outvote_the_chinese_wording():
    q = "ABC（Journal of Applied Pattern Recognition and Machine Learning）多久出版一期？"
    assert (detect_lang(q), question_lang(q)) == ("en", "zh")


def test_a_quoted_chinese_term_does_not_make_an_english_question_chinese():
    q = "What does the paper mean by “网络空间命运共同体与数字主权”?"
    assert (detect_lang(q), question_lang(q)) == ("zh", "en")
    assert question_lang("How is 《数据安全法》 applied to cross-border transfers?") == "en"


def test_a_question_that_is_all_quotation_keeps_its_text_language():
    assert question_lang("“网络主权”") == "zh"
    assert question_lang('"data sovereignty"') == "en"
    assert question_lang("OTSL 模型用了哪些数据集？") == "zh"


def test_every_bundled_gold_question_gets_its_labelled_language():
    rows = [
        json.loads(line)
        for name in ("real_pdfs/gold.jsonl", "real_pdfs_2/gold.jsonl", "review/gold_en.jsonl", "review/gold_zh.jsonl")
        for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    assert len(rows) == 125
    assert [r["id"] for r in rows if question_lang(r["question"]) != r["lang"]] == []
    # the raw text detector gets one of them wrong: the Chinese question quoting an English journal title
    assert [r["id"] for r in rows if detect_lang(r["question"]) != r["lang"]] == ["rp2-17"]
