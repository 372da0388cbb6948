"""The evidence of a question: entities found by linguistic means only, romanised names, the hits'
sentences read without touching the rest of the index, span features, and the answer model file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import english_feature_values

from rag.answer.answer_model import load_model
from rag.answer.cues import bigrams
from rag.answer.evidence import FEATURES, Evidence, features
from rag.errors import InvalidInputError
from rag.lang.entities import mentions, norm, question_entities
from rag.lang.translation import build_glossary, romanised_names, translate


@pytest.mark.parametrize(
    "question,expected",
    [
        ("肖晴在哪个赛区获得第一名？", [("肖晴", "name")]),
        ("根据IETF 2023年年报，IETF有多少个活跃工作组？", [("2023", "number"), ("IETF", "latin")]),
        ("欧盟《人工智能法》是什么时候生效的？", [("人工智能法", "title")]),
        ("九龙巴士95M线来往哪两个地方？", [("95", "number"), ("95M", "latin")]),
        (
            "When did the Normans conquer England in 1066?",
            [("1066", "number"), ("Normans", "latin"), ("England", "latin")],
        ),
        ("What is the capital of France?", [("France", "latin")]),
    ],
)
def test_question_entities(question, expected):
    got = [(e.text, e.kind) for e in question_entities(question)]
    for item in expected:
        assert item in got, got
    assert all(e.text.lower() not in {"what", "when", "how", "the"} for e in question_entities(question))


def test_a_question_number_is_not_an_entity():
    for q in ("3. 墨子号卫星是什么时候发射的？", "第12题：墨子号卫星是什么时候发射的？", "Q7: When was it launched?"):
        assert [e for e in question_entities(q) if e.kind == "number"] == [], q
    assert [e.text for e in question_entities("2019年发生了什么？") if e.kind == "number"] == ["2019"]
    assert [e.text for e in question_entities("3.5亿人是什么比例？") if e.kind == "number"] == ["3.5"]


def test_mentions_are_whole():
    twenty = next(e for e in question_entities("2020年发生了什么？") if e.kind == "number")
    assert (
        mentions(norm("2020年初"), twenty)
        and not mentions(norm("12020年"), twenty)
        and not mentions(norm("20201"), twenty)
    )
    law = next(e for e in question_entities("《数据安全法》何时生效？") if e.kind == "title")
    assert mentions(norm("《数据安全法》于2021年施行"), law) and not mentions(norm("数据安全与法治"), law)
    ietf = next(e for e in question_entities("What does the IETF do?") if e.text == "IETF")
    assert mentions(norm("the IETF's work"), ietf) and not mentions(norm("IETFX"), ietf)


def test_romanised_chinese_names_find_their_characters():
    g = build_glossary({"霁虹桥", "霁虹", "孙皓", "大沙地", "黑龙江"})
    assert romanised_names("Who talked Sun Hao out of it?", g) == [("Sun Hao", ["孙皓"])]
    assert translate("Where is the Jihong Bridge located?", g)[0] == ("Jihong", ["霁虹"])
    ent = {e.text: e for e in question_entities("When was Dashadi station built?", g)}
    assert "大沙地" in ent["Dashadi"].forms and mentions(norm("大沙地站于2005年建成"), ent["Dashadi"])
    assert romanised_names("What did Brazil host?", g) == []  # not pinyin


def test_bigrams():
    assert bigrams("数据治理 Data governance") == {"数据", "据治", "治理", "data", "governance"}


def test_evidence_reads_only_the_hits(assistant, monkeypatch):
    q = assistant.retriever.encode("墨子号卫星是什么时候发射的？")
    hits = assistant.retriever.retrieve(q, 3)
    index = assistant.retriever.index

    class NoScan:  # iterating over every passage of the index is what must not happen
        def __init__(self, store):
            self.store = store

        def __getitem__(self, i):
            return self.store[i]

        def __len__(self):
            return len(self.store)

        def __iter__(self):
            raise AssertionError("the whole index was read")

    monkeypatch.setattr(index, "chunks", NoScan(index.chunks))
    ev = Evidence.gather(q, hits, assistant.retriever)
    assert [p.hit for p in ev.passages] == hits and len(ev.texts) == len(ev.vecs) == len(ev.tokens)
    assert all(ev.texts[i] in hits[ev.bounds[i][0]].chunk.text for i in range(len(ev.texts)))
    spans = ev.spans()
    x = features(ev, spans)
    assert x.shape == (len(spans), len(FEATURES)) and np.isfinite(x).all()
    best = spans[int(np.argmax(load_model().probability(x, FEATURES)))]
    assert "2016年8月" in best.text


def test_answer_model_file_errors_are_one_line(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text(
        json.dumps(
            {"features": ["dense"], "mean": [0], "scale": [1], "coef": [1, 2], "intercept": 0, "threshold": 0.5}
        ),
        encoding="utf-8",
    )
    with pytest.raises(
        InvalidInputError, match="cannot read the answer model .* retrain it with bench/train_answer_model.py"
    ):
        load_model(str(bad))
    shipped = load_model()
    assert set(shipped.features) <= set(FEATURES) and 0 < shipped.threshold < 1
    assert shipped.meta["split"].startswith("by document")


class _CountingStore:
    """A chunk store that records every passage read and refuses to be iterated whole."""

    def __init__(self, store):
        self.store, self.read = store, []

    def __getitem__(self, i):
        self.read.append(int(i))
        return self.store[i]

    def __len__(self):
        return len(self.store)

    def __iter__(self):
        raise AssertionError("the whole index was read")


def test_answering_reads_only_the_hits_and_a_document_filter_only_its_document(assistant, monkeypatch):
    from rag.answer.verify import Thresholds, verify

    index = assistant.retriever.index
    store = _CountingStore(index.chunks)
    monkeypatch.setattr(index, "chunks", store)
    q = assistant.retriever.encode("墨子号卫星是什么时候发射的？")
    hits = assistant.retriever.retrieve(q, 3)
    store.read.clear()
    *_, ans = assistant.answer_hits(q.text, q, hits)  # the extractive answer
    assert not ans.abstained
    verify(ans.answer, q.lang, hits, assistant.retriever, Thresholds(0.5, 0.5))
    assert set(store.read) <= {h.position for h in hits}
    # a question about one document reads no passage of another (it used to decode every candidate)
    doc = hits[0].chunk.doc_id
    store.read.clear()
    filtered = assistant.ask("墨子号卫星是什么时候发射的？", docs=[doc])
    assert filtered.retrieved and {h.chunk.doc_id for h in filtered.retrieved} == {doc}
    # ... but the passages the whole index would answer from (to refuse a question only other documents discuss)
    everywhere = {h.position for h in assistant.retriever.retrieve(q, None)}
    assert store.read and set(store.read) <= set(index.doc_range(doc)) | everywhere
    with pytest.raises(KeyError):  # an id of no indexed document: found in none, without a scan
        index.position("not-indexed.txt#0")


def test_language_shares_are_counted_once_and_as_before(assistant):
    from rag.index.embedding import LANGS

    r = assistant.retriever
    langs = np.asarray(r.index.chunk_lang)
    assert r.index.lang_counts.sum() == len(langs)
    for lang in LANGS:
        assert r.language_share(lang) == float((langs == LANGS.index(lang)).mean())
    assert np.flatnonzero(r.index.lang_counts).tolist() == np.unique(langs).tolist()


def test_cross_lingual_question_terms_share_one_group_with_their_translations(assistant):
    from rag.answer.evidence import term_groups
    from rag.answer.retrieval import Retriever

    plain = assistant.retriever
    r = Retriever(plain.index, plain.embedder, plain.settings.model_copy(update={"crosslingual_term_groups": "merged"}))
    question = "Which ministers adopted the data governance framework?"
    apart = term_groups(plain.encode(question), plain)
    # the default ("quote") decides with the groups apart: the English word a group of its own
    assert ("governance",) in dict(apart)
    en = term_groups(r.encode(question), r)
    assert term_groups(plain.encode(question), plain, merge=True) == en  # what "quote" chooses spans with
    governance = [alts for alts, _ in en if "governance" in alts]
    # the English word and its Chinese translations are one group, not two
    assert len(governance) == 1 and any("\u4e00" <= c <= "\u9fff" for a in governance[0] for c in a)
    assert not any(alts == ("governance",) for alts, _ in en)
    zh = term_groups(r.encode("海底电缆故障的原因是什么？"), r)
    cable = [alts for alts, _ in zh if alts[0] == "电缆"]
    assert cable and "cable" in cable[0]


def test_variants_of_a_latin_term():
    from rag.answer.absent_terms import variants

    assert variants("developed")[0] == "developed" and {"develop", "develops"} <= set(variants("developed"))
    assert {"cabling", "cabled"} <= set(variants("cables"))
    assert "cables" in variants("cable") and "cable" in variants("cables")
    assert variants("海底光缆") == ["海底光缆"]


def test_states_quantity_ignores_list_markers_and_citation_numbers():
    from rag.answer.cues import states_quantity

    assert not states_quantity("How many?", "The aims were to 1) count; 2) compare [3] and (4).")
    assert not states_quantity("How many ships, 20 or more?", "About 20 ships were used [4, 7].")
    assert states_quantity("How many?", "a total of 361 extractions")
    assert states_quantity("How many?", "seven medical doctors")
    assert states_quantity("有几个？", "共有三个")


def test_question_words_are_not_terms_a_document_lacks():
    from rag.answer.absent_terms import QUESTION_WORD

    assert all(QUESTION_WORD.match(w) for w in ("many", "much", "这家", "哪一年", "几个", "多长", "什么"))
    assert not any(QUESTION_WORD.match(w) for w in ("manyfold", "cables", "研发", "版面费", "price"))


def test_in_document_reads_postings_not_passages(assistant, monkeypatch):
    from rag.answer.absent_terms import in_document

    r = assistant.retriever
    index = r.index
    store = _CountingStore(index.chunks)
    monkeypatch.setattr(index, "chunks", store)
    en = next(d for d in index.doc_order if d.startswith("en_"))
    zh = next(d for d in index.doc_order if d.startswith("zh_"))
    assert in_document(r, "cable", en) and in_document(r, "anchor", en)  # "cables", "anchors" in the text
    assert in_document(r, "cable-anchors", en)  # each part of a hyphenated term
    assert not in_document(r, "frontotemporal", en) and not in_document(r, "cable", zh)
    assert store.read == []


def test_doc_missing_counts_the_terms_the_document_lacks(assistant):
    r = assistant.retriever
    cols = [FEATURES.index(f) for f in ("doc_missing", "doc_missing_max", "number_absent")]

    def best_row(question: str) -> np.ndarray:
        q = r.encode(question)
        ev = Evidence.gather(q, r.retrieve(q, 3), r)
        spans = ev.spans()
        x = features(ev, spans)
        en = [i for i, s in enumerate(spans) if ev.hits[s.hit].chunk.doc_id.startswith("en_")]
        return x[en[0]][cols]

    present = best_row("When was the International Cable Protection Committee founded?")
    assert present[0] == 0.0 and present[1] == 0.0
    near = best_row("How many watts do the repair ships of the International Cable Protection Committee use?")
    assert 0.0 < near[0] < 1.0 and near[1] > 0.9  # "watts": in no passage, so the highest IDF


def test_a_veto_rules_a_span_out_and_survives_the_file(tmp_path):
    from dataclasses import replace

    shipped = load_model()
    assert shipped.vetoes == ("slot_unaligned",)  # the shipped veto (tests/test_slot_check.py)
    shipped = replace(shipped, vetoes=())
    vetoed = replace(shipped, vetoes=("asked_unnamed_en",))
    x = np.zeros((2, len(FEATURES)), np.float32)
    x[:, FEATURES.index("dense")] = 0.9
    x[1, FEATURES.index("asked_unnamed_en")] = 1.0
    p0, p1 = shipped.probability(x, FEATURES), vetoed.probability(x, FEATURES)
    assert p1[0] == p0[0] > 0 and p1[1] == 0.0 < p0[1]
    path = tmp_path / "vetoed.json"
    path.write_text(json.dumps(vetoed.to_dict()), encoding="utf-8")
    again = load_model(str(path))
    assert again.vetoes == ("asked_unnamed_en",) and again.probability(x, FEATURES).tolist() == p1.tolist()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**vetoed.to_dict(), "vetoes": [3]}), encoding="utf-8")
    with pytest.raises(InvalidInputError, match="cannot read the answer model"):
        load_model(str(bad))


def test_asked_unnamed_en_fires_when_no_span_names_the_counted_thing(assistant):
    def fired(question: str) -> list[float]:
        return english_feature_values(assistant, question, "asked_unnamed_en")

    assert fired("How many weeks did the first transatlantic telegraph cable work?")[0] == 0.0  # "three weeks"
    assert fired("How many watts do the repair ships use?") == [1.0]
    assert fired("When was the International Cable Protection Committee founded?") == [0.0]  # asks no count


def _evidence_of(kind: str, text: str):
    """Evidence over one passage of ``kind`` whose sentences are split as the index splits them."""
    from types import SimpleNamespace

    from rag.answer.evidence import Evidence, Passage
    from rag.lang.text import split_sentences

    hit = SimpleNamespace(chunk=SimpleNamespace(kind=kind, text=text))
    ev = Evidence(None, [hit], retriever=None)  # type: ignore[arg-type]
    for a, b in split_sentences(text):
        ev.texts.append(text[a:b])
        ev.bounds.append((0, a, b))
    ev.passages.append(Passage(hit, 0, len(ev.texts), frozenset(), text, frozenset({"zh"}), len(ev.texts)))  # type: ignore[arg-type]
    return ev


def test_a_sentence_cut_inside_a_title_is_also_quoted_with_the_one_that_closes_it():
    text = "(尼古拉·某某《新币论。答某先生关于货币价值的意见》1696年伦敦版第16页)物的价值在于有用。"
    spans = [s.text for s in _evidence_of("body", text).spans()]
    assert "(尼古拉·某某《新币论。答某先生关于货币价值的意见》1696年伦敦版第16页)物的价值在于有用。" in spans
    closed = [s.text for s in _evidence_of("body", "这是一句完整的话，没有括号。下一句也是完整的话。").spans()]
    assert closed == ["这是一句完整的话，没有括号。", "下一句也是完整的话。"]  # nothing joined


def test_front_matter_lines_are_quotable_without_a_full_stop():
    line = "中图分类 O212.7\n关键词 回归模型； 复发事件"
    assert [s.text for s in _evidence_of("front", line).spans()] == ["中图分类 O212.7", "关键词 回归模型； 复发事件"]
    assert [s.text for s in _evidence_of("body", line).spans()] == []  # body lines need a full stop


def test_when_opening_a_clause_before_the_interrogative_asks_no_time():
    from rag.answer.cues import ASKS_NUMBER

    assert not ASKS_NUMBER.search("When passing by the kitchen, what did the narrator fall over?")
    assert ASKS_NUMBER.search("When was the bridge built?")
    assert ASKS_NUMBER.search("What happened when the war ended?")  # as before


def test_a_requoted_span_names_as_many_question_entities_as_the_deciding_one(assistant):
    from dataclasses import replace

    from rag.answer.generation import ExtractiveGenerator

    g = ExtractiveGenerator()
    question = "Which four strategic priorities did the data governance framework set, as of 2022?"
    query = assistant.retriever.encode(question)
    ev, ranked = g.score(query, assistant.retriever.retrieve(question, 5), assistant.retriever)
    assert [e.text for e in ev.entities] == ["2022"]
    # with the English words merged with their translations the framework sentence (no 2022) ranks first
    _, merged = g.rank(replace(ev, merge=True))
    assert "2022" not in merged[0].text and "框架确立了" in merged[0].text
    decided = next(c for c in ranked if "2022" in c.text)
    # the quote chosen once answering is decided keeps the question's year the deciding span named
    assert [c.text for c in g.requote(ev, [decided])] == [
        "截至2022年，东盟10个成员国中已有7个制定了专门的个人数据保护立法。"
    ]
