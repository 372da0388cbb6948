"""Text utilities shared by every stage: normalisation, language, sentences, BM25 tokens."""

from __future__ import annotations

import re
import unicodedata

from rag.lang.segment import cut_for_search, full_jieba

_CJK_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2FA1F),
)


def is_cjk(ch: str) -> bool:
    """True for a Chinese (Han) character."""
    o = ord(ch)
    return any(a <= o <= b for a, b in _CJK_RANGES)


def squash(text: str) -> str:
    """NFKC with all whitespace removed: the form evidence quotes are matched in."""
    return "".join(unicodedata.normalize("NFKC", text).split())


# control (Cc), format (Cf: zero-width and bidi marks), surrogate and private-use characters: they carry
# no words, and in a terminal a control sequence can rewrite what the reader sees
_INVISIBLE = ("Cc", "Cf", "Cs", "Co")
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])|\x9b[0-?]*[ -/]*[@-~]")


def strip_invisible(text: str, keep: str = "\n\t") -> str:
    """``text`` without control, format, surrogate and private-use characters (``keep`` excepted);
    terminal escape sequences go whole, not only their ESC byte."""
    text = _ANSI.sub("", text)
    return "".join(ch for ch in text if ch in keep or unicodedata.category(ch) not in _INVISIBLE)


_BREAKS = re.compile(r"[\s\u2028\u2029\x85]+")


def one_line(text: str) -> str:
    """``text`` as one line for an exported field: line breaks, tabs and runs of spaces become one space,
    control, format and private-use characters (and terminal escapes) go; so a field cannot start a new
    record or line in RIS, BibTeX, CSV or Markdown."""
    return _BREAKS.sub(" ", strip_invisible(_BREAKS.sub(" ", text), keep=" ")).strip()


def has_words(text: str) -> bool:
    """Whether a text holds at least one letter or digit (in any script): punctuation, symbols,
    spaces and invisible characters alone ask nothing."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_ASCII_LETTER = re.compile("[A-Za-z]")


def detect_lang(text: str) -> str:
    """'zh' when Han characters carry the text, else 'en'."""
    cjk = len(_HAN.findall(text))
    latin = len(_ASCII_LETTER.findall(text))
    return "zh" if cjk and cjk * 5 >= latin else "en"


# a bracketed or quoted span of a question: a name it cites, not its own wording
_ASIDE = re.compile(r"（[^（）]*）|\([^()]*\)|“[^“”]*”|\"[^\"]*\"|《[^《》]*》|「[^「」]*」|『[^『』]*』")


def question_lang(question: str) -> str:
    """The language of a question's own wording: its bracketed and quoted names set aside."""
    # "ABC（an English journal title）多久出版一期？" is a Chinese question quoting a long English name,
    # "What is X (一个中文术语)?" an English one quoting a Chinese term: only the words outside such spans vote
    rest = _ASIDE.sub(" ", question)
    return detect_lang(rest) if _HAN.search(rest) or _ASCII_LETTER.search(rest) else detect_lang(question)


# --- sentences ---------------------------------------------------------------------------------

_CLOSERS = "”’」』）)]》〉\"'"
_HARD_END = "。！？!?…"
# abbreviations after which "." does not end an English sentence
_ABBREV = set(
    (
        "mr mrs ms dr prof no nos vol vols pp p ed eds eg e.g ie i.e al etc fig cf vs jan feb mar apr jun jul "
        "aug sep sept oct nov dec st inc ltd co u.s u.k u.n art para"
    ).split()
)


def _dot_ends_sentence(text: str, i: int) -> bool:
    """Whether the '.' at ``text[i]`` ends an English sentence."""
    nxt = text[i + 1] if i + 1 < len(text) else ""
    if nxt and not nxt.isspace():
        return False  # 62.0, e.g., URLs
    j = i + 1
    while j < len(text) and text[j] in " \t":
        j += 1
    following = text[j] if j < len(text) else ""
    if following and not (following.isupper() or is_cjk(following) or following in "“\"'(\n[^"):
        return False
    k = i
    while k > 0 and (text[k - 1].isalpha() or text[k - 1] == "."):
        k -= 1
    word = text[k:i].lower()
    if len(word) == 1 and text[k:i].isupper():
        return False  # an initial: "Milton L. Mueller"
    return word not in _ABBREV


def split_sentences(text: str, max_len: int = 0) -> list[tuple[int, int]]:
    """Sentence spans (start, end) over ``text``: 。！？.!? and newlines end sentences, closers kept.

    Spans cover the text without gaps except surrounding whitespace. With ``max_len`` a longer
    sentence is cut at a semicolon (；;), else a comma-like mark, else hard, so no span exceeds it.
    Semicolons do not end sentences otherwise: a Chinese list of clauses stays one quotable unit.
    """
    spans: list[tuple[int, int]] = []
    start, i, n = 0, 0, len(text)
    while i < n:
        ch = text[i]
        end = -1
        if ch == "\n":
            end = i
        elif ch in _HARD_END or (ch == "." and _dot_ends_sentence(text, i)):
            end = i + 1
            while end < n and (text[end] in _HARD_END or text[end] in _CLOSERS):
                end += 1
        if end >= 0:
            _push(text, start, end, spans)
            start = max(end, i + 1)
            i = start
            continue
        i += 1
    _push(text, start, n, spans)
    if max_len:
        spans = [piece for s in spans for piece in cut_long(text, s, max_len)]
    return spans


def _push(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


_SEMI = "；;"
_SOFT = "，,、：:"


def cut_long(text: str, span: tuple[int, int], max_len: int) -> list[tuple[int, int]]:
    """A span longer than ``max_len`` characters cut at semicolons, else commas, else spaces, else hard."""
    start, end = span
    out: list[tuple[int, int]] = []
    while end - start > max_len:
        window = text[start : start + max_len]
        cut = max(window.rfind(c) for c in _SEMI)
        if cut < max_len // 3:
            cut = max(window.rfind(c) for c in _SOFT)
        if cut < max_len // 3:
            cut = window.rfind(" ")
        stop = start + (cut + 1 if cut >= max_len // 3 else max_len)
        _push(text, start, stop, out)
        start = stop
    _push(text, start, end, out)
    return out


# --- BM25 tokens ------------------------------------------------------------------------------

_STOP = set(
    "的 了 是 在 和 与 及 或 等 对 于 为 以 而 也 都 就 被 把 其 之 这 那 该 此 并 从 由 向 将 中 上 下 "
    "我 你 他 她 它 们 有 个 着 所 如 若 则 又 还 即 但 因 由于 因为 所以 什么 哪些 哪个 哪 怎么 怎样 "
    "如何 多少 几 吗 呢 吧 啊 一 一个 这个 那个 这些 那些 根据 关于 主要 方面 进行 "
    "a an the of to in on for by with as at from is are was were be been being and or not "
    "what which who whom whose when where why how does do did has have had that this these those "
    "it its their there than then into about according article paper".split()
)
_WORD = re.compile(r"[0-9a-z]+(?:[.\-][0-9a-z]+)*|[\u3400-\u9fff\uf900-\ufaff]+")
_jieba = full_jieba  # jieba with its whole dictionary (for callers that need jieba itself)


def tokenize(text: str) -> list[str]:
    """BM25 tokens: NFKC, lower-case; Han runs cut by jieba (search mode), Latin words kept whole."""
    norm = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    for m in _WORD.finditer(norm):
        word = m.group()
        if is_cjk(word[0]):
            out.extend(t for t in cut_for_search(word) if t not in _STOP)
        elif word not in _STOP:
            out.append(word)
    return out
