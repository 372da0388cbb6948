"""A review question's frame and topic: "How does each paper view X?" / "各文如何看待X？" asks about X.

The frame (who is asked, the verb of stance) is a linguistic cue, never a topic: stripping it leaves the
words a passage must be about, so the frame's own words ("paper", "看待") neither match nor embed."""

from __future__ import annotations

import re

from rag.lang.text import question_lang

# who is asked: each paper / author / the papers
_WHO_EN = r"(?:each|every|the|these|both|all(?: the)?|different|individual) (?:papers?|articles?|studies|study|authors?|works?|texts?|sources?)(?:'s?)?"
_VERB_EN = (
    r"(?:view|see|treat|understand|describe|discuss|approach|assess|evaluate|define|characteri[sz]e|explain|"
    r"say|propose|argue|suggest|recommend|conclude|address|present|frame|regard|think|claim|report|analy[sz]e|"
    r"identify|consider|position|emphasi[sz]e|examine)"
)
_FRAMES_EN = [
    rf"^\s*(?:how|what|in what way|in which ways?)\s+(?:do|does|did)\s+{_WHO_EN}\s+{_VERB_EN}\b(?:\s+(?:about|regarding|on|concerning|as to|of))?",
    rf"^\s*what (?:is|are) {_WHO_EN}\s+(?:views?|positions?|stances?|arguments?|claims?|takes?|perspectives?|accounts?)\s+(?:on|of|about|regarding)",
    rf"^\s*(?:according to|in) {_WHO_EN},?",
    rf"\b(?:according to|in) {_WHO_EN}\s*\??\s*$",
    r"^\s*(?:how|what)\s+(?:is|are|was|were)\b",
    r"^\s*(?:what|which|how)\b",
    r"\b(?:described|discussed|viewed|treated|understood|seen|characteri[sz]ed|explained|addressed)\s*\??\s*$",
    # a relational noun before the subject asks about the subject ("the role of X in Y")
    r"^\s*(?:the\s+)?(?:role|roles|place|position|situation|impact|influence)\s+(?:of|played by)\s+",
]
_WHO_ZH = r"(?:各文|各篇(?:文章|论文|文献)?|每篇(?:文章|论文|文献)?|这些(?:文章|论文|文献)|各(?:位)?作者|三篇(?:文章|论文)|各(?:文章|论文|文献)|诸文)"
_VERB_ZH = (
    r"(?:如何|怎样|怎么|是如何|是怎样)(?:看待|认识|理解|评价|论述|分析|描述|界定|阐述|解释|定义|讨论|判断|概括|处理)|"
    r"(?:有何|持何|有什么|持什么|有哪些)(?:观点|看法|主张|立场|论述|见解|判断|建议|认识)|"
    r"(?:提出了?|指出了?|认为|讨论了?|论述了?|分析了?)(?:哪些|什么|怎样的|何种)?"
)
_FRAMES_ZH = [
    rf"^\s*(?:{_WHO_ZH})(?:对|关于|就|在)?",
    rf"(?:{_VERB_ZH})",
    r"(?:的)?(?:看法|观点|论述|立场|主张|认识)(?:是什么|为何|如何|有哪些)?",
    r"(?:是什么|有哪些|如何|怎样|为何|哪些)\s*$",
    # a relational noun after the subject asks about the subject ("X在Y中的作用": X's part in Y)
    r"中?的(?:作用|角色|处境|地位|影响|态度|立场|做法|定位)\s*$",
]
_TRAIL = re.compile(r"[\s?？。.!！,，:：;；]+$")
_LEAD = re.compile(r"^[\s,，:：]+|^(?:对|关于|就|the)\s+", re.I)


def topic_of(question: str) -> str:
    """The question without its review frame (the whole question when nothing is left)."""
    q = " ".join(question.split())
    lang = question_lang(q)
    t = _TRAIL.sub("", q)
    for pat in _FRAMES_ZH if lang == "zh" else _FRAMES_EN:
        t = re.sub(pat, " ", t, count=1, flags=re.I)
        t = _TRAIL.sub("", " ".join(t.split()))
    t = _LEAD.sub("", t).strip()
    return t if len(t) >= 2 else q
