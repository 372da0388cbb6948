"""Dictionary query translation for cross-lingual BM25."""

from __future__ import annotations

import numpy as np

from rag.lang.translation import build_glossary, full_dictionary, is_pinyin, structured_bm25, translate


def test_glossary_keeps_only_words_of_the_index():
    g = build_glossary({"治理", "网络空间", "联合国", "公约", "主权"})
    assert "网络空间" in g["cyberspace"] and set(g["cyberspace"]) <= {"治理", "网络空间", "联合国", "公约", "主权"}
    assert g["united nations"] == ["联合国"] and "un" not in g  # CC-CEDICT only: no domain word list
    assert "internet" not in g  # none of its translations is in this index
    assert all(len(w) >= 2 for words in g.values() for w in words)


def test_translate_groups_phrases_lemmas_and_skips_stopwords():
    g = {"latin america": ["拉美", "拉丁美洲"], "forum": ["论坛"], "governance": ["治理"], "found": ["创立"]}
    assert translate("Why do the governance forums in Latin America matter?", g) == [
        ("governance", ["治理"]),
        ("forums", ["论坛"]),
        ("latin america", ["拉美", "拉丁美洲"]),
    ]
    assert translate("Who founded it?", g) == [("founded", ["创立"])]


def test_structured_bm25_takes_the_best_alternative_per_group():
    class FakeBM25:
        table = {"甲": np.array([1.0, 0.0]), "乙": np.array([0.0, 3.0]), "丙": np.array([2.0, 2.0])}

        def get_scores(self, tokens):
            return sum(self.table[t] for t in tokens)

    groups = [("a", ["甲", "乙"]), ("b", ["丙"])]
    assert structured_bm25(FakeBM25(), groups).tolist() == [3.0, 5.0]  # max(1,0)+2, max(0,3)+2
    assert structured_bm25(FakeBM25(), []) is None


def test_full_dictionary_and_pinyin():
    assert "乌拉圭" in full_dictionary()["uruguay"]
    assert all(is_pinyin(w) for w in ["Zhao", "Jiejin", "Xi", "Beijing"])
    assert not any(is_pinyin(w) for w in ["Uruguay", "Budapest", "Everest", "Guterres"])


def test_english_question_over_chinese_text_finds_it(assistant):
    hits = assistant.retriever.retrieve("When did the ASEAN digital ministers adopt the data governance framework?", 3)
    assert hits[0].chunk.doc_id == "zh_paper.txt"
    assert "东盟数字数据治理框架" in hits[0].chunk.text


def test_chinese_words_translate_to_english_words_of_the_vocabulary():
    from rag.lang.translation import english_glosses, translate_to_english

    assert "system" in english_glosses()["系统"]
    vocab = {w: i for i, w in enumerate(["system", "systems", "error", "ship"])}
    # glosses and their plurals found in the vocabulary, in dictionary order; unknown words and
    # words without an English word of the vocabulary give no group; a repeated word one group
    assert translate_to_english(["系统", "错误", "系统", "量子", "抽取"], vocab) == [
        ("系统", ["system", "systems"]),
        ("错误", ["error"]),
    ]
    assert translate_to_english([], vocab) == []


def test_inflections_are_the_regular_forms_of_a_dictionary_word():
    from rag.lang.translation import inflections, translate_to_english

    assert inflections("publish") == ["publish", "publishs", "publishes", "published", "publishing"]
    assert inflections("make") == ["make", "makes", "makees", "maked", "making"]
    assert inflections("vary") == ["vary", "varys", "varyes", "varyed", "varying", "varies", "varied"]
    assert inflections("play")[-1] == "playing"  # a vowel before the y: no -ies form
    # a Chinese word finds its English gloss in the inflected form a passage holds it in (出版: publish)
    assert translate_to_english(["出版"], {"published": 0, "publisher": 1}) == [("出版", ["published"])]


def test_inflected_forms_do_not_crowd_out_a_later_gloss():
    from rag.lang.translation import english_glosses, translate_to_english

    assert english_glosses()["架构"][:4] == ["construct", "build", "infrastructure", "architecture"]
    forms = ["construct", "constructs", "constructed", "build", "builds", "building", "architecture"]
    vocab = {w: i for i, w in enumerate(forms)}
    # 7 forms, more than MAX_ALTERNATIVES (6): the cap counts glosses, so the forms of the first two
    # glosses leave room for the fourth
    assert translate_to_english(["架构"], vocab) == [("架构", forms)]
