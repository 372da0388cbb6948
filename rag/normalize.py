"""Character-level normalisation of extracted text: NFKC with footnote circles kept as markers,
spaces between CJK characters dropped, fullwidth punctuation restored after Han text."""

from __future__ import annotations

import re
import unicodedata

from rag.text import is_cjk, strip_invisible

# circled numbers survive NFKC only as plain digits, so they become private-use markers first
MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"
_CIRCLED = {chr(0x2460 + i): i + 1 for i in range(20)}
_CIRCLED.update({chr(0x3251 + i): i + 21 for i in range(15)})
_CIRCLED.update({chr(0x32B1 + i): i + 36 for i in range(15)})
_CIRCLED.update({chr(0x2776 + i): i + 1 for i in range(10)})  # dingbat negative circled
_CIRCLE_RE = re.compile(r"\^?\s?([" + "".join(_CIRCLED) + r"])")
MARK_RE = re.compile(MARK_OPEN + r"(\d+)" + MARK_CLOSE)
CJK_PUNCT = set("，。、；：？！“”‘’（）《》〈〉【】「」『』…—·")


def normalize(raw: str) -> str:
    """NFKC (fullwidth digits, Latin, spaces) with footnote circles turned into markers first."""
    # control and invisible format characters (terminal escapes, zero-width marks, soft hyphens) are
    # never text a scholar reads or quotes
    raw = strip_invisible(raw, keep="\n\t\f")
    raw = _CIRCLE_RE.sub(lambda m: f"{MARK_OPEN}{_CIRCLED[m.group(1)]}{MARK_CLOSE}", raw)
    text = unicodedata.normalize("NFKC", raw)
    return text.replace("\u2217", "*").replace("\t", " ")


def squeeze(s: str) -> str:
    """Drop spaces between Han characters, CJK punctuation and digits; collapse the rest."""
    s = re.sub(r"[ \u00a0]+", " ", s).strip()

    def tight(ch: str) -> bool:
        return is_cjk(ch) or ch in CJK_PUNCT

    out = []
    for i, ch in enumerate(s):
        if ch == " " and 0 < i < len(s) - 1:
            a, b = s[i - 1], s[i + 1]
            if (tight(a) and (tight(b) or b.isdigit())) or (a.isdigit() and tight(b)):
                continue
        out.append(ch)
    return "".join(out)


_FW = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}


def cjk_punct(s: str) -> str:
    """Restore fullwidth punctuation that NFKC made ASCII, where it follows Han text."""
    chars = list(s)
    for i, ch in enumerate(chars):
        if ch in _FW and i > 0:
            prev = chars[i - 1]
            if is_cjk(prev) or prev in "”」》）":
                chars[i] = _FW[ch]
    return "".join(chars)
