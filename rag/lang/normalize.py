"""Character-level normalisation of extracted text: NFKC with footnote circles kept as markers, CJK
radicals folded to the ideographs they stand for, spaces between CJK characters dropped, fullwidth
punctuation restored after Han text."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rag.lang.text import is_cjk, strip_invisible

# circled numbers survive NFKC only as plain digits, so they become private-use markers first
MARK_OPEN, MARK_CLOSE = "\ue000", "\ue001"
_CIRCLED = {chr(0x2460 + i): i + 1 for i in range(20)}
_CIRCLED.update({chr(0x3251 + i): i + 21 for i in range(15)})
_CIRCLED.update({chr(0x32B1 + i): i + 36 for i in range(15)})
_CIRCLED.update({chr(0x2776 + i): i + 1 for i in range(10)})  # dingbat negative circled
_CIRCLE_RE = re.compile(r"\^?\s?([" + "".join(_CIRCLED) + r"])")
MARK_RE = re.compile(MARK_OPEN + r"(\d+)" + MARK_CLOSE)
CJK_PUNCT = set("，。、；：？！“”‘’（）《》〈〉【】「」『』…—·")


# CJK Radicals Supplement characters whose equivalent ideograph neither a decomposition nor the name of a
# Kangxi radical gives (Unicode's EquivalentUnifiedIdeograph.txt), as pairs: radical, ideograph
_RADICAL_GAPS = (
    "⺂乛⺃乚⺅亻⺆冂⺇𠘨⺉刂⺋㔾⺎兀⺏尣⺑𡯂⺒巳⺓幺⺔彑⺕𫜹⺖忄⺘扌⺙攵⺛旡⺞歺⺠民⺡氵⺢氺⺣灬⺤爫⺥爫⺦丬⺨犭⺩王⺪𤴔⺭礻"
    "⺮𥫗⺯糹⺰纟⺱罓⺲罒⺳㓁⺴冗⺵𦉫⺷𦍌⺸𦍋⺹耂⺺肀⺽𦥑⺾艹⺿艹⻀艹⻁虎⻂衤⻃覀⻄西⻅见⻇𧢲⻈讠⻉贝⻊𧾷⻋车⻌辶⻍辶⻎辶"
    "⻐钅⻒镸⻓长⻔门⻕𨸏⻖阝⻘青⻙韦⻚页⻛风⻜飞⻞𩙿⻟飠⻠饣⻡𩠐⻢马⻥鱼⻦鸟⻧卤⻨麦⻩黄⻪黾⻫斉⻬齐⻭歯⻮齿⻯竜⻰龙⻲亀"
)


@lru_cache(maxsize=1)
def radical_table() -> dict[int, str]:
    """CJK radicals (Kangxi Radicals U+2F00-U+2FD5, CJK Radicals Supplement U+2E80-U+2EF3) to unified
    ideographs: from their compatibility decompositions, else from the Kangxi radical of the same name
    ("CJK RADICAL RAIN" -> "KANGXI RADICAL RAIN" -> 雨), else from the table of known gaps."""
    kangxi: dict[str, str] = {}
    out: dict[int, str] = {}
    for c in range(0x2F00, 0x2FD6):
        folded = unicodedata.normalize("NFKC", chr(c))
        if folded != chr(c):
            out[c] = folded
            kangxi[unicodedata.name(chr(c), "").removeprefix("KANGXI RADICAL ")] = folded
    for c in range(0x2E80, 0x2EF4):
        ch = chr(c)
        name = unicodedata.name(ch, "")
        folded = unicodedata.normalize("NFKC", ch)
        if folded != ch:
            out[c] = folded
        elif m := re.fullmatch(r"CJK RADICAL (.+?)(?: ONE| TWO| THREE| FOUR)?", name):
            if m.group(1) in kangxi:
                out[c] = kangxi[m.group(1)]
    gaps = _RADICAL_GAPS
    out.update({ord(gaps[i]): gaps[i + 1] for i in range(0, len(gaps), 2)})
    return out


def fold_radicals(text: str) -> str:
    """Text with CJK radical characters replaced by the ideographs they stand for (⼤ -> 大, ⻓ -> 长)."""
    return text.translate(radical_table())


# spacing accents a PDF text layer sometimes gives beside their letter ("J˛edrzej", "Pas¸ca"); NFKC would
# turn them into a space and a combining mark. The acute (used as an apostrophe, "Student´s") and the ring
# (used as a degree sign, "30˚C") are left alone.
_SPACING_ACCENTS = {
    "\u02db": "\u0328",  # ogonek
    "\u00b8": "\u0327",  # cedilla
    "\u00a8": "\u0308",  # diaeresis
    "\u02d8": "\u0306",  # breve
    "\u02d9": "\u0307",  # dot above
    "\u02dc": "\u0303",  # tilde
    "\u02dd": "\u030b",  # double acute
    "\u02c6": "\u0302",  # circumflex
    "\u02c7": "\u030c",  # caron
}
_ACCENT_RE = re.compile(r"([A-Za-z])?([" + "".join(_SPACING_ACCENTS) + r"])([A-Za-z])?")


def attach_accents(text: str) -> str:
    """Spacing accents next to a Latin letter joined to it when Unicode has the accented letter: the
    letter before first ("Pas¸ca" -> "Paşca"), else the one after ("J˛edrzej" -> "Jędrzej")."""

    def join(m: re.Match[str]) -> str:
        before, accent, after = m.group(1) or "", m.group(2), m.group(3) or ""
        mark = _SPACING_ACCENTS[accent]
        if before and len(one := unicodedata.normalize("NFC", before + mark)) == 1:
            return one + after
        if after and len(one := unicodedata.normalize("NFC", after + mark)) == 1:
            return before + one
        return m.group(0)

    return _ACCENT_RE.sub(join, text) if any(a in text for a in _SPACING_ACCENTS) else text


def normalize(raw: str) -> str:
    """NFKC (fullwidth digits, Latin, spaces) with footnote circles turned into markers first and CJK
    radicals folded to ideographs."""
    # control and invisible format characters (terminal escapes, zero-width marks, soft hyphens) are
    # never text a scholar reads or quotes
    raw = strip_invisible(raw, keep="\n\t\f")
    raw = _CIRCLE_RE.sub(lambda m: f"{MARK_OPEN}{_CIRCLED[m.group(1)]}{MARK_CLOSE}", raw)
    text = unicodedata.normalize("NFKC", fold_radicals(attach_accents(raw)))
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
