"""Fuzzing the question path from a fixed seed: random Unicode (every plane, controls, invisible and
bidi characters, lone surrogates, escape sequences), odd k values and huge inputs, through the library,
the real CLI and the app's /ask API. Every reply must be an answer, a refusal or one error line."""

from __future__ import annotations

import random
import re

import pytest
from conftest import rag_cli, served_app
from gradio_client import Client

from rag.answer.generation import ABSTAIN
from rag.errors import InvalidInputError
from rag.lang.text import strip_invisible
from rag.records import Answer
from rag.refs.render import answer_text

SEED = 7714
ALPHABETS = [
    (0x00, 0x20),
    (0x20, 0x7F),
    (0x7F, 0xA0),
    (0x3000, 0x303F),
    (0x4E00, 0x9FFF),
    (0xFF00, 0xFFEF),
    (0x200B, 0x2010),
    (0x202A, 0x202F),
    (0x2066, 0x206A),
    (0xD800, 0xDFFF),
    (0xE000, 0xE0FF),
    (0x1F300, 0x1F6FF),
    (0x20000, 0x2A6DF),
    (0x0600, 0x06FF),
    (0x0400, 0x04FF),
    (0xFFF0, 0xFFFF),
]
SPECIALS = [
    "\x1b[2J",
    "\x1b]0;title\x07",
    "？？？",
    "…",
    "《》",
    "数据治理",
    "ICANN",
    "2019年",
    "'; DROP TABLE x; --",
    "{0}",
    "%s",
    "\r\n",
    "\u202e",
    "\ufeff",
    " ",
]


def fuzz_questions(n: int, seed: int = SEED, max_len: int = 80) -> list[str]:
    """``n`` questions mixing random code points of many ranges with special fragments."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(0, 6)):
            if rng.random() < 0.3:
                parts.append(rng.choice(SPECIALS))
            else:
                lo, hi = rng.choice(ALPHABETS)
                parts.append("".join(chr(rng.randrange(lo, hi)) for _ in range(rng.randint(1, max_len // 4))))
        out.append("".join(parts))
    return out + ["", "数" * 2000, "数" * 2001, "a" * 100_000, "\x00" * 50, "？" * 3000]


def _well_formed(a: Answer) -> None:
    """A refusal is the fixed sentence with nothing cited; an answer cites, and its [n] marks are exactly
    its citations, numbered from 1."""
    if a.abstained:
        assert a.answer in ABSTAIN.values() and a.citations == (), a.answer
    else:
        marks = {int(n) for n in re.findall(r"\[(\d+)\]", a.answer)}
        assert marks == {c.n for c in a.citations} == set(range(1, len(a.citations) + 1)) != set(), a.answer


def _library(assistant, q: str, k=None) -> tuple[str, object]:
    """What the library does with a question: ("answer", the record without timings) or ("error", message)."""
    try:
        rec = assistant.ask(q, k).to_dict()
    except InvalidInputError as exc:
        return "error", str(exc)
    return "answer", {key: v for key, v in rec.items() if key != "timings_ms"}


def test_library(assistant):
    for q in fuzz_questions(300):
        try:
            a = assistant.ask(q)
        except InvalidInputError as exc:
            assert "\n" not in str(exc) and str(exc).startswith("the question ")
            continue
        assert isinstance(a, Answer)
        _well_formed(a)


@pytest.mark.parametrize("k", [None, 1, 100, 0, -1, 101, 2.5, "7", float("nan"), float("inf")])
def test_library_k(assistant, k):
    try:
        a = assistant.ask("墨子号卫星是什么时候发射的？", k=k)
    except InvalidInputError as exc:
        assert k not in (None, 1, 100) and str(exc).startswith("k (passages to retrieve) must be")
        return
    # the fixture index holds fewer passages than 100 (distinct spans after de-duplication)
    assert k in (None, 1, 100) and len(a.retrieved) == min(k or 5, len(assistant.ask("量子通信", k=100).retrieved))


def test_cli(fixture_settings, assistant, tmp_path):
    # a process per question is slow: a sample, every one checked exactly
    for q in [x for x in fuzz_questions(40, seed=SEED + 1) if "\x00" not in x][:12]:
        # lone surrogates reach a real process as the invalid UTF-8 bytes they stand for
        proc = rag_cli(
            "ask",
            q.encode("utf-8", "surrogatepass"),
            "--index",
            str(fixture_settings.index_path),
            cwd=tmp_path,
            env={"RAG_CACHE_DIR": str(fixture_settings.embedding_cache_dir)},
        )
        # exactly what the library does with the question: its answer as text, or its one-line error
        kind, expected = _library(assistant, q)
        if kind == "answer":
            printed = strip_invisible(answer_text(assistant.ask(q))) + "\n"
            assert (proc.returncode, proc.stdout, proc.stderr) == (0, printed, ""), proc.stderr
            assert "\x1b" not in proc.stdout
        else:
            assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", f"error: {expected}\n")
            assert expected.startswith("the question ")


@pytest.fixture(scope="module")
def api(fixture_settings):
    with served_app(fixture_settings) as (_, url):
        yield Client(url, verbose=False)


def test_api(api, assistant):
    # a request body is UTF-8 JSON, which cannot carry a lone surrogate (the library test covers them)
    questions = [q.encode("utf-8", "replace").decode("utf-8") for q in fuzz_questions(40, seed=SEED + 2)]
    ks = [0, 3, -5, 10**9, 100, 101]
    for i, q in enumerate(questions):
        k = ks[i % len(ks)]
        # the API checks k first (0 keeps the default), then asks the library
        if k in (-5, 10**9, 101):
            kind, expected = "error", f"k (passages to retrieve) must be a whole number from 1 to 100, got {k!r}"
        else:
            kind, expected = _library(assistant, q, k or None)
        try:
            record = api.predict(q, k, None, api_name="/ask")
        except Exception as exc:  # gradio_client raises AppError with the server's one-line message
            assert (kind, str(exc)) == ("error", expected)
            continue
        assert kind == "answer" and {key: v for key, v in record.items() if key != "timings_ms"} == expected
