"""A fast, streaming BibTeX/BibLaTeX reader: entries are split by brace counting over the text (C-speed
``str.find``/``count`` on the common shape, a brace walk otherwise), fields parsed by position, LaTeX
decoded by tables (escaped specials, accents, special letters; other macros dropped, their arguments
kept); names split as BibTeX does ("von Last, Jr, First" or "First von Last"; a braced name such as
``{World Bank}`` stays whole). bibtexparser with pylatexenc read ~0.2 MB/s; this reads tens of MB/s.

An entry whose braces do not close before the next line starting with ``@`` is reported as failed with
its line; the rest are read."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from rag.records import Person

Progress = Callable[[int, int], None]  # (characters read, characters in all)

MONTHS = {m: str(i) for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}


@dataclass(frozen=True)
class RawEntry:
    """One entry: its type (lower case), key, fields (lower-case names; values LaTeX-decoded, except the
    name lists ``author`` and ``editor``, kept raw for ``split_names``, and ``file``; ``url`` and ``doi``
    verbatim but for grouping braces) and first line."""

    type: str
    key: str
    fields: dict[str, str]
    line: int


@dataclass(frozen=True)
class Failed:
    """An entry that cannot be parsed, by its first line (from 1)."""

    line: int


_AT = re.compile(r"@[ \t]*([A-Za-z]+)[ \t\r\n]*([{(])")
_FIELD = re.compile(r"[\s,]*([^\s=,{}\"#()]+)\s*=\s*")
_BARE = re.compile(r"[^\s,#}{)\"]+")
# the common field: a braced value without groups inside, or a number, then a comma or the end
_SIMPLE = re.compile(r"[\s,]*([^\s=,{}\"#()]+)\s*=\s*(?:\{([^{}]*)\}|(\d+))\s*(?:,|$)")
_RAW = ("author", "editor", "file")  # kept raw: names are split before decoding, paths keep their escapes
_VERBATIM = ("url", "doi")  # addresses: only grouping braces removed (a ~ or -- in them is not LaTeX)


def read_entries(text: str, progress: Progress | None = None, every: int = 1 << 20) -> Iterator[RawEntry | Failed]:
    """Every entry of a BibTeX text, in order (macros from @string applied; @comment and @preamble
    skipped); ``progress`` about every ``every`` characters."""
    macros = dict(MONTHS)
    pos, line, last_tick, n = 0, 1, 0, len(text)
    while True:
        m = _AT.search(text, pos)
        if not m:
            break
        line += text.count("\n", pos, m.start())
        kind, opener = m.group(1).lower(), m.group(2)
        end = _close(text, m.end(), opener)
        if end is None:
            nxt = text.find("\n@", m.end())
            yield Failed(line)
            stop = n if nxt < 0 else nxt + 1
            line += text.count("\n", m.start(), stop)
            pos = stop
            continue
        body = text[m.end() : end]
        if kind == "string":
            got = _fields(body, macros)
            if got is not None:
                macros.update({k: v for k, v in got[1].items()})
        elif kind not in ("comment", "preamble"):
            comma = body.find(",")
            key = (body if comma < 0 else body[:comma]).strip()
            got = _fields(body[comma + 1 :] if comma >= 0 else "", macros)
            yield Failed(line) if got is None or not key else RawEntry(kind, key, got[1], line)
        line += text.count("\n", m.start(), end + 1)
        pos = end + 1
        if progress and pos - last_tick >= every:
            progress(pos, n)
            last_tick = pos
    if progress:
        progress(n, n)


def _close(text: str, start: int, opener: str) -> int | None:
    """The index of the brace (or parenthesis) closing an entry opened just before ``start``, or None when
    a line starting with '@' comes first (a brace left open)."""
    nxt = text.find("\n@", start)
    limit = len(text) if nxt < 0 else nxt
    if opener == "{":
        # the common shape: the entry's last '}' before the next entry, braces balanced in between
        at = text.rfind("}", start, limit)
        if at >= 0 and text.count("{", start, at) == text.count("}", start, at) and not text[at + 1 : limit].strip():
            return at
    depth = 0
    for i in range(start, limit):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0 and opener == "{":
                return i
            depth -= 1
            if depth < 0:
                return None
        elif ch == ")" and depth == 0 and opener == "(":
            return i
    return None


def _fields(body: str, macros: dict[str, str]) -> tuple[str, dict[str, str]] | None:
    """The fields of an entry body (after its key): name -> decoded value; None when malformed."""
    out: dict[str, str] = {}
    pos, n = 0, len(body)
    while True:
        simple = _SIMPLE.match(body, pos)
        if simple:
            name, raw = simple.group(1).lower(), simple.group(2)
            if raw is None:
                out[name] = simple.group(3)
            else:
                out[name] = _value(name, raw)
            pos = simple.end()
            continue
        m = _FIELD.match(body, pos)
        if not m:
            return ("", out) if not body[pos:].strip(" \t\r\n,") else None
        name, pos = m.group(1).lower(), m.end()
        parts: list[str] = []
        while True:
            while pos < n and body[pos] in " \t\r\n":
                pos += 1
            if pos >= n:
                return None
            ch = body[pos]
            if ch == "{":
                end = _group_end(body, pos)
                if end is None:
                    return None
                parts.append(body[pos + 1 : end])
                pos = end + 1
            elif ch == '"':
                end = _quote_end(body, pos + 1)
                if end is None:
                    return None
                parts.append(body[pos + 1 : end])
                pos = end + 1
            else:
                w = _BARE.match(body, pos)
                if not w:
                    return None
                word = w.group()
                parts.append(word if word.isdigit() else macros.get(word.lower(), word))
                pos = w.end()
            while pos < n and body[pos] in " \t\r\n":
                pos += 1
            if pos < n and body[pos] == "#":
                pos += 1
                continue
            break
        raw = "".join(parts)
        out[name] = _value(name, raw)
        if pos < n and body[pos] not in ",":
            return None


def _value(name: str, raw: str) -> str:
    if name in _RAW:
        return raw
    if name in _VERBATIM:
        return raw.replace("{", "").replace("}", "")
    return decode(raw)


def _group_end(s: str, start: int) -> int | None:
    """The index of the '}' closing the '{' at ``start``."""
    close = s.find("}", start + 1)
    if close < 0:
        return None
    if s.find("{", start + 1, close) < 0:  # no group inside: the common case
        return close
    depth = 0
    for i in range(start, len(s)):
        c = s[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
    return None


def _quote_end(s: str, start: int) -> int | None:
    """The index of the '"' ending a quoted value (a quote inside braces does not end it)."""
    depth = 0
    for i in range(start, len(s)):
        c = s[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == '"' and depth == 0 and s[i - 1] != "\\":
            return i
    return None


# --- LaTeX to text -------------------------------------------------------------------------------------

_ACCENTS = {
    '"': "\u0308",
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
    "d": "\u0323",
    "b": "\u0331",
}
_LETTERS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "ae": "æ",
    "AE": "Æ",
    "oe": "œ",
    "OE": "Œ",
    "aa": "å",
    "AA": "Å",
    "l": "ł",
    "L": "Ł",
    "i": "ı",
    "j": "ȷ",
    "textbackslash": "\\",
    "textbraceleft": "{",
    "textbraceright": "}",
    "textasciitilde": "~",
    "textasciicircum": "^",
    "textunderscore": "_",
    "textendash": "–",
    "textemdash": "—",
    "textquoteright": "’",
    "textquoteleft": "‘",
    "S": "§",
    "P": "¶",
    "dag": "†",
    "copyright": "©",
    "textregistered": "®",
    "texttrademark": "™",
    "euro": "€",
    "pounds": "£",
    "dots": "…",
    "ldots": "…",
}
_ESCAPED = set("{}%&#_$\\ ,;!")
_MACRO = re.compile(r"\\([A-Za-z]+|.)[ \t]*")
_SPECIAL = re.compile(r"[\\{}~$]|--")


_TOKEN = re.compile(r"\\([A-Za-z]+|.)[ \t]*|[{}$~]|---?")


def decode(value: str) -> str:
    """A BibTeX value as plain text: escaped specials, accents and special letters decoded, other macros
    dropped (their arguments kept), grouping braces and math dollars removed, ``~`` a space, ``--`` a dash."""
    if not _SPECIAL.search(value):
        return value
    if "\\" not in value and "~" not in value and "$" not in value and "--" not in value:
        return value.replace("{", "").replace("}", "")  # only grouping braces
    return _decode(value)


@lru_cache(maxsize=65536)
def _decode(value: str) -> str:
    out: list[str] = []
    pending = ""  # a combining accent waiting for its letter
    at = 0

    def text(piece: str) -> None:
        nonlocal pending
        if pending and piece:
            out.append(unicodedata.normalize("NFC", piece[0] + pending) + piece[1:])
            pending = ""
        elif piece:
            out.append(piece)

    for m in _TOKEN.finditer(value):
        text(value[at : m.start()])
        at = m.end()
        tok = m.group()
        name = m.group(1)
        if name is None:
            if tok == "~":
                text(" ")
            elif tok.startswith("--"):
                text("—" if tok == "---" else "–")
            continue  # braces and dollars: dropped
        if name in _ACCENTS and len(name) == 1:
            pending = _ACCENTS[name]
        elif name in _LETTERS:
            letter = _LETTERS[name]
            if pending:  # \'{\i}: the accent sits on a dotless i
                letter = {"ı": "i", "ȷ": "j"}.get(letter, letter)
            text(letter)
            if value.startswith("{}", at):
                at += 2
        elif name in _ESCAPED:
            text(" " if name in " ,;" else name)
            at = m.start() + 2  # the spaces after an escaped character are text
        # any other macro: dropped, its argument (a group) read as text
    text(value[at:])
    return "".join(out)


# --- names -----------------------------------------------------------------------------------------------

_SEPS = {" and ": re.compile(r" and ", re.I), ",": re.compile(","), " ": re.compile(" ")}


def _top_level(s: str, sep: str) -> list[str]:
    """``s`` split at ``sep`` (" and ", "," or " ", case-insensitive) where it is not inside braces."""
    if "{" not in s:
        parts = _SEPS[sep].split(s)
    else:
        cuts = [m for m in _SEPS[sep].finditer(s) if s.count("{", 0, m.start()) == s.count("}", 0, m.start())]
        bounds = [0] + [x for m in cuts for x in (m.start(), m.end())] + [len(s)]
        parts = [s[bounds[i] : bounds[i + 1]] for i in range(0, len(bounds), 2)]
    return [p for p in parts if p.strip()] if sep == " " else parts


@lru_cache(maxsize=65536)
def split_names(raw: str) -> tuple[Person, ...]:
    """The people of a raw ``author``/``editor`` value: "Last, First", "von Last, Jr, First" or "First von
    Last"; a name wholly in braces (an organisation) kept whole; each part LaTeX-decoded."""
    people = []
    for name in _top_level(" ".join(raw.split()), " and "):
        name = name.strip()
        if not name:
            continue
        bits = [b.strip() for b in _top_level(name, ",")]
        if len(bits) == 2:
            people.append(Person(_clean(bits[0]), _clean(bits[1])))
            continue
        if len(bits) > 2:
            people.append(Person(_clean(bits[0]), _clean(f"{bits[2]} {bits[1]}")))
            continue
        words = _top_level(name, " ")
        if len(words) == 1:
            people.append(Person(_clean(words[0])))
            continue
        # "First von Last": the family name starts at the first lower-case word after the first (von),
        # else it is the last word
        start = next((k for k in range(1, len(words) - 1) if _lower(words[k])), len(words) - 1)
        people.append(Person(_clean(" ".join(words[start:])), _clean(" ".join(words[:start]))))
    return tuple(people)


def _lower(word: str) -> bool:
    first = next((c for c in decode(word) if c.isalpha()), "")
    return bool(first) and first.islower() and not word.startswith("{")


def _clean(part: str) -> str:
    return " ".join(decode(part).split())
