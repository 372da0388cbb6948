"""Whether two papers' matched points say the same thing or take opposite stances: a pair of points on
the same matter (rag.review.api.compare) is "opposite" when negation or contrast cues mark exactly one
side — a linguistic signal only (never a topic word), so it reads any subject in Chinese or English."""

from __future__ import annotations

import re

SAME, OPPOSITE = "same", "opposite"

# negation and explicit contrast with another view: function words and fixed phrases of stance, English and
# Chinese (concessives such as "although", "but", 虽然, 但 qualify a sentence's own claim and are left out)
_NEG_EN = re.compile(
    r"\b(?:not|no|never|neither|nor|cannot|can't|won't|doesn't|don't|isn't|aren't|wasn't|weren't|hardly|"
    r"fail(?:s|ed)? to|rather than|instead of|contrary to|in contrast|on the contrary|however|reject(?:s|ed)?|"
    r"oppose(?:s|d)?|den(?:y|ies|ied))\b",
    re.I,
)
# 不 only before a modal or a verb of stance (不应, 不能, 不是, 不支持 ...): elsewhere it makes words (不平等,
# 不断, 不同) rather than denying a claim
_NEG_ZH = re.compile(
    r"不(?=应|能|会|是|可|该|要|愿|必|宜|支持|同意|承认|认同|赞成|主张|接受|认为)|并非|并不|未能|无法|否认|反对|而非|然而|相反|与之相对"
)


def cues(text: str) -> int:
    """How many negation or contrast cues a sentence holds."""
    return len(_NEG_EN.findall(text)) + len(_NEG_ZH.findall(text))


def relation(quote_a: str, quote_b: str) -> str:
    """OPPOSITE when one point is negated or contrasted and the other is not, else SAME."""
    return OPPOSITE if (cues(quote_a) > 0) != (cues(quote_b) > 0) else SAME
