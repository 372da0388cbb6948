"""jieba word segmentation and part-of-speech tags without loading jieba's whole dictionary.

Loading jieba's prefix dictionary (~500k words) and its part-of-speech tables costs about a second of
CPU per process, more than the rest of a `rag ask`. Cutting a text only ever looks up substrings of
that text, so a text is cut here by jieba's own code over the dictionary restricted to the substrings it
can reach — the same words, frequencies, totals and tags, hence exactly jieba's output — read from an
SQLite file written once from the real dictionary (next to jieba's own cache, in the temp folder).
After ``FULL_AFTER`` characters (an index build, a long batch) the whole dictionary is loaded once,
which is then cheaper; without the file (first use, a read-only temp folder) jieba is used as is.

The segmentation and part-of-speech functions below are ports of jieba 0.42.1's own (``jieba/__init__.py``,
``jieba/posseg/__init__.py`` and ``viterbi.py``), which is MIT-licensed (Copyright (c) 2013 Sun Junyi),
changed only to read the restricted tables.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
from functools import cached_property, lru_cache

import numpy as np

from rag.tempdb import temp_db_path, write_db

FORMAT = 1
FULL_AFTER = 100_000  # characters cut from the on-disk dictionary before the whole one is loaded
_lock = threading.RLock()
_state = {"chars": 0, "full": False}


@lru_cache(maxsize=1)
def full_jieba():
    """jieba with its whole dictionary loaded (once, quietly, thread-safely)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    with _lock:
        jieba.initialize()
        _state["full"] = True
    return jieba


def _db_path() -> str:
    import jieba

    dict_file = os.path.join(os.path.dirname(jieba.__file__), "dict.txt")
    return temp_db_path("jieba", dict_file, jieba.__version__, FORMAT)


def write_dictionary(path: str) -> None:
    """Write jieba's dictionary, tags and tagging model to an SQLite file at ``path`` (atomically)."""
    import jieba.posseg as pseg

    jb = full_jieba()

    def fill(con: sqlite3.Connection) -> None:
        tags = pseg.dt.word_tag_tab
        states = list(pseg.trans_P)
        index = {s: i for i, s in enumerate(states)}
        emit: dict[str, list] = {}
        for s, row in pseg.emit_P.items():
            for ch, p in row.items():
                emit.setdefault(ch, []).append([index[s], p])
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        con.execute("CREATE TABLE words (word TEXT PRIMARY KEY, freq INTEGER, tag TEXT) WITHOUT ROWID")
        con.execute("CREATE TABLE chars (ch TEXT PRIMARY KEY, states TEXT, emit TEXT) WITHOUT ROWID")
        meta = {
            "total": jb.dt.total,
            "states": states,
            "start": [pseg.start_P[s] for s in states],
            "trans": [[[index[t], p] for t, p in pseg.trans_P[s].items()] for s in states],
        }
        con.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
        con.executemany("INSERT INTO words VALUES (?, ?, ?)", ((w, f, tags.get(w)) for w, f in jb.dt.FREQ.items()))
        cst = pseg.char_state_tab_P
        rows = (
            (ch, json.dumps([index[s] for s in cst[ch]]) if ch in cst else None, json.dumps(emit.get(ch, [])))
            for ch in set(cst) | set(emit)
        )
        con.executemany("INSERT INTO chars VALUES (?, ?, ?)", rows)

    write_db(path, fill)


class Dictionary:
    """jieba's dictionary in an SQLite file, read as texts need it: the words, tags and tagging model of
    every text cut so far are kept (a subset of jieba's tables, with the same values)."""

    def __init__(self, path: str):
        import jieba

        self.con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        meta = {k: json.loads(v) for k, v in self.con.execute("SELECT key, value FROM meta")}
        self.states = [tuple(s) for s in meta["states"]]
        self.start = dict(zip(self.states, meta["start"]))
        self.trans = {s: {self.states[t]: p for t, p in row} for s, row in zip(self.states, meta["trans"])}
        self.tokenizer = jieba.Tokenizer()  # jieba's own code over the words read so far
        self.tokenizer.total, self.tokenizer.initialized = meta["total"], True
        self.freq: dict[str, int] = self.tokenizer.FREQ
        self.tags: dict[str, str] = {}
        self.absent: set[str] = set()
        self.char_states: dict[str, tuple] = {}
        self.emit: dict[tuple, dict[str, float]] = {s: {} for s in self.states}
        self.chars_read: set[str] = set()

    def _fetch(self, table: str, key: str, cols: str, keys: list[str]) -> list[tuple]:
        out = []
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            q = f"SELECT {key}, {cols} FROM {table} WHERE {key} IN ({','.join('?' * len(part))})"
            out.extend(self.con.execute(q, part).fetchall())
        return out

    def read_words(self, text: str) -> None:
        """Read every dictionary word among the substrings of ``text``: a word's prefixes are all in
        jieba's FREQ, so growing substrings while they are found reaches every one jieba looks up."""
        frontier = [(i, i + 1) for i in range(len(text))]
        while frontier:
            new = list({text[a:b] for a, b in frontier} - self.freq.keys() - self.absent)
            for w, f, t in self._fetch("words", "word", "freq, tag", new):
                self.freq[w] = f
                if t is not None:
                    self.tags[w] = t
            self.absent.update(w for w in new if w not in self.freq)
            frontier = [(a, b + 1) for a, b in frontier if b < len(text) and text[a:b] in self.freq]

    def read_model(self, text: str) -> None:
        """Read the part-of-speech model's states and emission probabilities of ``text``'s characters."""
        chars = list(set(text) - self.chars_read)
        for ch, st, em in self._fetch("chars", "ch", "states, emit", chars):
            if st:
                self.char_states[ch] = tuple(self.states[i] for i in json.loads(st))
            for i, p in json.loads(em):
                self.emit[self.states[i]][ch] = p
        self.chars_read.update(chars)

    def cut_for_search(self, text: str) -> list[str]:
        """``jieba.lcut_for_search(text)`` over this dictionary."""
        with _lock:
            self.read_words(text)
        return self.tokenizer.lcut_for_search(text)

    def pos_cut(self, text: str) -> list[tuple[str, str]]:
        """``jieba.posseg.cut(text)`` over this dictionary, as (word, tag) pairs."""
        with _lock:
            self.read_words(text)
            self.read_model(text)
        return _Tagger(self.tokenizer, self.tags, self.char_states, self.hmm, self.emit).cut(text)

    @cached_property
    def hmm(self) -> "DenseHMM":
        """The tagging model's start and transition tables as arrays (``viterbi``)."""
        return DenseHMM(self.start, self.trans)


@lru_cache(maxsize=1)
def _dictionary() -> Dictionary | None:
    try:
        path = _db_path()
        if not os.path.exists(path):
            write_dictionary(path)  # loads the whole dictionary: this process uses it
            return None
        return Dictionary(path)
    except (OSError, sqlite3.Error, ValueError, KeyError):
        return None  # no usable file: jieba as is


def _lite(text: str) -> Dictionary | None:
    """The on-disk dictionary while it is the cheaper way to cut ``text``, else None."""
    with _lock:
        if _state["full"]:
            return None
        _state["chars"] += len(text)
        return _dictionary() if _state["chars"] <= FULL_AFTER else None


def cut_for_search(text: str) -> list[str]:
    """Exactly ``jieba.lcut_for_search(text)``."""
    d = _lite(text)
    return full_jieba().lcut_for_search(text) if d is None else d.cut_for_search(text)


# --- part-of-speech tags: jieba.posseg's cut (HMM on), over the restricted tables ---------------------

_HAN_DETAIL = re.compile("([\u4e00-\u9fd5]+)")
_SKIP_DETAIL = re.compile("([\\.0-9]+|[a-zA-Z0-9]+)")
_HAN_INTERNAL = re.compile("([\u4e00-\u9fd5a-zA-Z0-9+#&\\._]+)")
_SKIP_INTERNAL = re.compile("(\r\n|\\s)")
_ENG = re.compile("[a-zA-Z0-9]+")
_NUM = re.compile("[\\.0-9]+")
MIN_FLOAT, MIN_INF = -3.14e100, float("-inf")


def pos_cut(text: str) -> list[tuple[str, str]]:
    """Exactly ``[(p.word, p.flag) for p in jieba.posseg.cut(text)]``."""
    d = _lite(text)
    if d is None:
        full_jieba()
        import jieba.posseg

        with _lock:  # jieba's tagger is not thread-safe while it initialises
            return [(p.word, p.flag) for p in jieba.posseg.cut(text)]
    return d.pos_cut(text)


class _Tagger:
    """jieba.posseg.POSTokenizer's cut with HMM, over given tables (jieba 0.42.1, MIT licence)."""

    def __init__(self, tk, tags, char_states, hmm, emit):
        self.tk, self.tags = tk, tags
        self.model = (char_states, hmm, emit)

    def cut(self, sentence: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for blk in _HAN_INTERNAL.split(sentence):
            if _HAN_INTERNAL.match(blk):
                out.extend(self._cut_dag(blk))
                continue
            for x in _SKIP_INTERNAL.split(blk):
                if _SKIP_INTERNAL.match(x):
                    out.append((x, "x"))
                    continue
                for xx in x:
                    out.append((xx, "m" if _NUM.match(xx) else "eng" if _ENG.match(x) else "x"))
        return out

    def _cut_dag(self, sentence: str) -> list[tuple[str, str]]:
        dag = self.tk.get_DAG(sentence)
        route: dict = {}
        self.tk.calc(sentence, dag, route)
        out: list[tuple[str, str]] = []
        x, buf, n = 0, "", len(sentence)
        while x < n:
            y = route[x][1] + 1
            word = sentence[x:y]
            if y - x == 1:
                buf += word
            else:
                if buf:
                    out.extend(self._flush(buf))
                    buf = ""
                out.append((word, self.tags.get(word, "x")))
            x = y
        if buf:
            out.extend(self._flush(buf))
        return out

    def _flush(self, buf: str) -> list[tuple[str, str]]:
        if len(buf) == 1:
            return [(buf, self.tags.get(buf, "x"))]
        if not self.tk.FREQ.get(buf):
            return self._cut_detail(buf)
        return [(ch, self.tags.get(ch, "x")) for ch in buf]

    def _cut_detail(self, sentence: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for blk in _HAN_DETAIL.split(sentence):
            if _HAN_DETAIL.match(blk):
                out.extend(self._cut_hmm(blk))
                continue
            for x in _SKIP_DETAIL.split(blk):
                if x:
                    out.append((x, "m" if _NUM.match(x) else "eng" if _ENG.match(x) else "x"))
        return out

    def _cut_hmm(self, sentence: str) -> list[tuple[str, str]]:
        pos_list = viterbi(sentence, *self.model)
        out: list[tuple[str, str]] = []
        begin, nexti = 0, 0
        for i, char in enumerate(sentence):
            pos = pos_list[i][0]
            if pos == "B":
                begin = i
            elif pos == "E":
                out.append((sentence[begin : i + 1], pos_list[i][1]))
                nexti = i + 1
            elif pos == "S":
                out.append((char, pos_list[i][1]))
                nexti = i + 1
        if nexti < len(sentence):
            out.append((sentence[nexti:], pos_list[nexti][1]))
        return out


class DenseHMM:
    """jieba.posseg's start and transition tables as arrays over its states in sorted order, for
    ``viterbi``: one array operation per character instead of a Python loop over state pairs."""

    def __init__(self, start_p: dict, trans_p: dict):
        self.states = sorted(trans_p)  # tuple order: the order max() breaks ties by in jieba's code
        self.index = {s: i for i, s in enumerate(self.states)}
        n = len(self.states)
        self.trans = np.full((n, n), MIN_INF)
        self.follows = np.zeros((n, n), bool)  # y is listed among x's successors (the value may be anything)
        for x, row in trans_p.items():
            for y, p in row.items():
                self.trans[self.index[x], self.index[y]] = p
                self.follows[self.index[x], self.index[y]] = True
        self.has_next = np.asarray(self.follows.any(axis=1))
        self.start = np.array([start_p[y] for y in self.states])
        self.everything = np.ones(n, bool)

    def allowed(self, char_states: dict, ch: str) -> np.ndarray:
        """The states ``ch`` may take (all of them for a character the model does not list)."""
        listed = char_states.get(ch)
        if listed is None:
            return self.everything
        mask = np.zeros(len(self.states), bool)
        mask[[self.index[y] for y in listed]] = True
        return mask


def viterbi(obs: str, char_states: dict, hmm: DenseHMM, emit_p: dict) -> list:
    """jieba.posseg.viterbi.viterbi's best state path, the same floating-point sums in the same order:
    per state, (previous value + transition) + emission, the maximum taken with ties going to the
    greatest previous state, as jieba's max() over (value, state) tuples does."""
    states = hmm.states
    cur = np.flatnonzero(hmm.allowed(char_states, obs[0]))
    v = hmm.start[cur] + np.array([emit_p[states[j]].get(obs[0], MIN_FLOAT) for j in cur])
    back: list[dict[int, int]] = [{}]
    for ch in obs[1:]:
        keep: np.ndarray = hmm.has_next[cur]
        prev, vprev = cur[keep][::-1], v[keep][::-1]  # descending: argmax's first maximum is the greatest
        if not len(prev):
            raise ValueError("max() arg is an empty sequence")  # what jieba's code raises here
        expect = hmm.follows[prev].any(axis=0)
        mask = hmm.allowed(char_states, ch) & expect
        if not mask.any():
            mask = expect if expect.any() else hmm.everything
        new = np.flatnonzero(mask)
        emit = np.array([emit_p[states[j]].get(ch, MIN_FLOAT) for j in new])
        scores = (vprev[:, None] + hmm.trans[np.ix_(prev, new)]) + emit[None, :]
        arg = scores.argmax(axis=0)
        v = scores[arg, np.arange(len(new))]
        back.append(dict(zip(new.tolist(), prev[arg].tolist())))
        cur = new
    best = int(cur[::-1][int(np.argmax(v[::-1]))])
    route: list = [None] * len(obs)
    for i in range(len(obs) - 1, -1, -1):
        route[i] = states[best]
        best = back[i].get(best, -1)
    return route
