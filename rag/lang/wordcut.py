"""jieba 0.42.1's cutting and tagging code (``jieba/__init__.py``'s ``Tokenizer.cut`` / ``cut_for_search``,
``jieba/finalseg``, ``jieba/posseg/__init__.py`` and ``viterbi.py``; MIT-licensed, Copyright (c) 2013 Sun
Junyi), ported to run over any tables: the restricted ones ``rag.lang.segment`` reads from its SQLite file, or
jieba's whole ones. Each returns exactly jieba's output; the two Viterbi searches are rewritten for speed
with the same floating-point sums in the same order and the same tie-breaking (a question's sentences are
cut on every answer, and jieba's dict-of-lists searches were a fifth of it)."""

from __future__ import annotations

import re

import numpy as np

# jieba.Tokenizer.cut (HMM on, not cut_all) and jieba.finalseg.cut
_HAN_DEFAULT = re.compile("([\u4e00-\u9fd5a-zA-Z0-9+#&\\._%\\-]+)")
_SKIP_DEFAULT = re.compile("(\r\n|\\s)")
_HAN_FINALSEG = re.compile("([\u4e00-\u9fd5]+)")
_SKIP_FINALSEG = re.compile("([a-zA-Z0-9]+(?:\\.\\d+)?%?)")
# jieba.posseg
_HAN_DETAIL = re.compile("([\u4e00-\u9fd5]+)")
_SKIP_DETAIL = re.compile("([\\.0-9]+|[a-zA-Z0-9]+)")
_HAN_INTERNAL = re.compile("([\u4e00-\u9fd5a-zA-Z0-9+#&\\._]+)")
_SKIP_INTERNAL = re.compile("(\r\n|\\s)")
_ENG = re.compile("[a-zA-Z0-9]+")
_NUM = re.compile("[\\.0-9]+")
MIN_FLOAT, MIN_INF = -3.14e100, float("-inf")


class Tagger:
    """jieba.posseg.POSTokenizer's cut with HMM, over given tables (jieba 0.42.1, MIT licence)."""

    def __init__(self, tk, tags, char_states, hmm, emit):
        self.tk, self.tags = tk, tags
        self.model = (char_states, hmm, emit)

    def cut(self, sentence: str) -> list[tuple[str, str]]:
        """``[(p.word, p.flag) for p in jieba.posseg.cut(sentence)]`` over this tagger's tables."""
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
        out: list[tuple[str, str]] = []
        for piece, single in dag_pieces(self.tk, sentence):
            out.extend(self._flush(piece) if single else [(piece, self.tags.get(piece, "x"))])
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


# --- jieba.Tokenizer.cut_for_search (HMM on) over a tokenizer's tables --------------------------------


def cut_for_search(tk, sentence: str, force_split: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """``tk.lcut_for_search(sentence)`` for a ``jieba.Tokenizer`` ``tk`` (its FREQ, get_DAG and calc),
    ``force_split`` being ``jieba.finalseg.Force_Split_Words``."""
    freq = tk.FREQ
    out: list[str] = []
    for w in cut(tk, sentence, force_split):
        if len(w) > 2:
            out.extend(g for i in range(len(w) - 1) if freq.get(g := w[i : i + 2]))
        if len(w) > 3:
            out.extend(g for i in range(len(w) - 2) if freq.get(g := w[i : i + 3]))
        out.append(w)
    return out


def cut(tk, sentence: str, force_split: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """``tk.lcut(sentence)`` (HMM on): dictionary words by the DAG, unknown runs by the B/M/E/S model."""
    out: list[str] = []
    for blk in _HAN_DEFAULT.split(sentence):
        if not blk:
            continue
        if _HAN_DEFAULT.match(blk):
            out.extend(_cut_dag(tk, blk, force_split))
            continue
        for x in _SKIP_DEFAULT.split(blk):
            if _SKIP_DEFAULT.match(x):
                out.append(x)
            else:
                out.extend(x)
    return out


def _cut_dag(tk, sentence: str, force_split) -> list[str]:
    out: list[str] = []
    for piece, single in dag_pieces(tk, sentence):
        out.extend(_flush_buf(tk, piece, force_split) if single else (piece,))
    return out


def dag_pieces(tk, sentence: str) -> list[tuple[str, bool]]:
    """jieba's best route through the word graph of ``sentence`` (``tk.get_DAG``, ``tk.calc``), as jieba's
    cut and tagger walk it: each word of two or more characters (False), and each run of consecutive
    one-character steps joined (True), which jieba then cuts again as one buffer."""
    route: dict = {}
    tk.calc(sentence, tk.get_DAG(sentence), route)
    out: list[tuple[str, bool]] = []
    x, buf, n = 0, "", len(sentence)
    while x < n:
        y = route[x][1] + 1
        if y - x == 1:
            buf += sentence[x]
        else:
            if buf:
                out.append((buf, True))
                buf = ""
            out.append((sentence[x:y], False))
        x = y
    if buf:
        out.append((buf, True))
    return out


def _flush_buf(tk, buf: str, force_split) -> list[str]:
    if len(buf) == 1:
        return [buf]
    if not tk.FREQ.get(buf):
        return hmm_cut(buf, force_split)
    return list(buf)


def hmm_cut(sentence: str, force_split: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """``list(jieba.finalseg.cut(sentence))``: Han runs cut by the B/M/E/S model, the rest split as jieba does."""
    from jieba.finalseg import emit_P, start_P, trans_P

    out: list[str] = []
    for blk in _HAN_FINALSEG.split(sentence):
        if _HAN_FINALSEG.match(blk):
            path = bmes_path(blk, start_P, trans_P, emit_P)
            begin, nexti = 0, 0
            for i, char in enumerate(blk):
                pos = path[i]
                if pos == "B":
                    begin = i
                elif pos == "E":
                    word = blk[begin : i + 1]
                    out.extend(word if word in force_split else (word,))
                    nexti = i + 1
                elif pos == "S":
                    out.extend(char if char in force_split else (char,))
                    nexti = i + 1
            if nexti < len(blk):
                word = blk[nexti:]
                out.extend(word if word in force_split else (word,))
        else:
            out.extend(x for x in _SKIP_FINALSEG.split(blk) if x)
    return out


_SLOT = {"B": 0, "M": 1, "E": 2, "S": 3}


def bmes_path(obs: str, start: dict, trans: dict, emit: dict) -> list[str]:
    """jieba.finalseg.viterbi's state path, unrolled over its four states: each state's best predecessor
    by (value + transition) + emission, a tie going to the greater state letter as jieba's max() over
    (value, state) tuples does; the last state E or S likewise."""
    g = MIN_FLOAT
    eb, em, ee, es = emit["B"], emit["M"], emit["E"], emit["S"]
    t_eb, t_sb = trans["E"].get("B", g), trans["S"].get("B", g)  # into B from E, S
    t_mm, t_bm = trans["M"].get("M", g), trans["B"].get("M", g)  # into M from M, B
    t_ss, t_es = trans["S"].get("S", g), trans["E"].get("S", g)  # into S from S, E
    t_be, t_me = trans["B"].get("E", g), trans["M"].get("E", g)  # into E from B, M
    c = obs[0]
    vb, vm = start["B"] + eb.get(c, g), start["M"] + em.get(c, g)
    ve, vs = start["E"] + ee.get(c, g), start["S"] + es.get(c, g)
    back: list[tuple[str, str, str, str]] = []  # per step: the predecessor of B, M, E, S
    for c in obs[1:]:
        pb, pm, pe, ps = eb.get(c, g), em.get(c, g), ee.get(c, g), es.get(c, g)
        x, y = ve + t_eb + pb, vs + t_sb + pb
        nb, fb = (y, "S") if y >= x else (x, "E")
        x, y = vm + t_mm + pm, vb + t_bm + pm
        nm, fm = (x, "M") if x >= y else (y, "B")
        x, y = vs + t_ss + ps, ve + t_es + ps
        ns, fs = (x, "S") if x >= y else (y, "E")
        x, y = vb + t_be + pe, vm + t_me + pe
        ne, fe = (y, "M") if y >= x else (x, "B")
        vb, vm, ve, vs = nb, nm, ne, ns
        back.append((fb, fm, fe, fs))
    state = "S" if vs >= ve else "E"
    path = [state]
    for step in reversed(back):
        state = step[_SLOT[state]]
        path.append(state)
    path.reverse()
    return path
