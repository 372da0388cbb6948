"""Answer typing: what a question asks for, and whether a sentence supplies it."""

from __future__ import annotations

import pytest

from rag.slots import Slot, question_slot, slot_filled

VOCAB = {"icann", "cicte", "ietf", "联合国", "巴西", "人口", "美国"}
GLOSSARY = {"population": ["人口"], "brazil": ["巴西"]}


@pytest.mark.parametrize(
    "question,kind,unit,required",
    [
        ("第79届大会一共开了几天？", "number", "天", ()),
        ("该公约目前有多少个缔约方？", "number", None, (("缔约方",),)),
        ("损失大约有多少？", "number", None, ()),
        ("国际网络空间安全治理经历了哪几种模式变迁？", None, None, ()),  # 哪几 asks for a list
        ("印度尼西亚是什么时候正式加入金砖国家的？", "date", None, ()),
        ("ICANN现任首席执行官是谁？", None, None, (("执行官",),)),
        ("委员会的总部设在哪座城市？", None, None, (("总部",),)),
        ("How many parties does the convention have?", "number", None, ()),
        ("What is the population of Brazil?", "number", None, (("population", "人口"),)),
        ("In what year did the United States give up ICANN oversight?", "date", None, ()),
        ("Why do the authors favour the UN?", None, None, ()),
    ],
)
def test_question_slots(question, kind, unit, required):
    slot = question_slot(question, GLOSSARY, VOCAB)
    assert (slot.kind, slot.unit) == (kind, unit)
    assert slot.required == required


def test_entities_acronyms_titles_and_unknown_names():
    assert question_slot("ICANN董事会有多少名成员？", {}, VOCAB).entities == (("icann",),)
    assert question_slot("2023年全球5G基站总数是多少？", {}, VOCAB).entities == (("5g",),)  # never in the corpus
    assert question_slot("欧盟《人工智能法》是什么时候生效的？", {}, VOCAB).entities == (("人工智能法",),)
    uruguay = question_slot("What is the capital of Uruguay?", {}, VOCAB).entities
    assert uruguay and uruguay[0][0] == "uruguay" and "乌拉圭" in uruguay[0]  # a real name the corpus lacks
    assert question_slot("What did Brazil host in 2014?", GLOSSARY, VOCAB).entities == ()  # the corpus has 巴西
    assert question_slot("Why do Zhao and Yu see the UN as the best venue?", {}, VOCAB).entities[-1:] != (("zhao",),)


@pytest.mark.parametrize(
    "slot,text,ok",
    [
        (Slot("number", "天"), "会议于2010年11月举行。", False),
        (Slot("number", "天"), "会议为期5天。", True),
        (Slot("number", "天"), "会议共开了三天。", True),
        (Slot("number"), "有大约一半的人口在使用互联网。", False),  # 一半 is not a count
        (Slot("number"), "该公约共有78个缔约方。", True),
        (Slot("number"), "第79届大会在北京举行。", False),  # the question's own number does not answer it
        (Slot("date"), "2025年1月6日，印度尼西亚正式加入金砖国家。", True),
        (Slot("date"), "印度尼西亚加入了金砖国家。", False),
        (Slot(required=(("总部",),)), "总部设在中国北京。", True),
        (Slot(required=(("总部",),)), "CICTE是美洲国家组织的机构。", False),
        (Slot(entities=(("人工智能法",),)), "欧盟关注人工智能。", False),
    ],
)
def test_slot_filled(slot, text, ok):
    assert slot_filled(slot, text, "第79届大会一共开了几天？") is ok


def test_entities_may_be_in_the_passage_not_the_sentence():
    slot = Slot(entities=(("icann",),))
    assert slot_filled(slot, "该机构的董事会由16名成员构成。", "q", passage="ICANN的治理结构如下。该机构的董事会由16名成员构成。")
    assert not slot_filled(slot, "该机构的董事会由16名成员构成。", "q", passage="该机构的董事会由16名成员构成。")
