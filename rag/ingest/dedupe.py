"""Duplicate documents beyond identical bytes: the same DOI, the same normalised title and year, or
near-identical text (a second download, another PDF export of one paper). Text is compared by MinHash
over character shingles of the cleaned text, an estimate of the Jaccard similarity of their sets."""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

SHINGLE = 5  # characters per shingle (spaces and punctuation removed first): works for Han and Latin text
N_HASHES = 128  # MinHash functions: the Jaccard estimate's standard error is about 0.04 at 0.9
NEAR_TEXT = 0.9  # estimated Jaccard similarity from which two texts are one document
MIN_TITLE = 8  # characters a normalised title needs to identify a work together with its year
_rng = np.random.default_rng(20250607)  # fixed: signatures must compare across runs and processes
# multiply-shift hashing (Dietzfelbinger): odd 64-bit multipliers, products wrapping modulo 2**64, the high
# bits kept. (a*x + b) mod p with small a and x is nearly monotone in x, so every function's minimum fell
# on the same few shingles and unrelated short texts came out "near-identical".
_A = _rng.integers(0, 1 << 63, N_HASHES, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _rng.integers(0, 1 << 63, N_HASHES, dtype=np.uint64)
_WORDLESS = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a document as a work: DOI, normalised title and year, and a MinHash signature."""

    doi: str = ""
    title: str = ""
    year: str = ""
    signature: tuple[int, ...] = ()
    chars: int = 0  # length of the compared text


@dataclass(frozen=True)
class Duplicate:
    """A document found to duplicate another, and how it was recognised."""

    doc_id: str
    of: str
    reason: str  # "same DOI 10.x/y", "same title and year", "near-identical text (similarity 0.97)"
    path: str = ""  # the duplicate's file


def norm_title(title: str) -> str:
    """A title as compared: NFKC, case folded, without spaces or punctuation."""
    return _WORDLESS.sub("", unicodedata.normalize("NFKC", title).casefold())


def _squashed(text: str) -> str:
    return _WORDLESS.sub("", unicodedata.normalize("NFKC", text).casefold())


def signature(text: str) -> tuple[int, ...]:
    """MinHash signature of the text's character shingles (empty for a text shorter than one shingle)."""
    s = _squashed(text)
    if len(s) < SHINGLE:
        return ()
    shingles = np.fromiter(
        {zlib.crc32(s[i : i + SHINGLE].encode("utf-8")) for i in range(len(s) - SHINGLE + 1)}, dtype=np.uint64
    )
    with np.errstate(over="ignore"):  # the wrap-around is the hash
        hashed = (np.outer(_A, shingles) + _B[:, None]) >> np.uint64(32)
    return tuple(int(v) for v in hashed.min(axis=1))


def similarity(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Estimated Jaccard similarity of two signatures (0 when either is empty)."""
    if not a or not b:
        return 0.0
    return float(np.mean(np.asarray(a, dtype=np.uint64) == np.asarray(b, dtype=np.uint64)))


def fingerprint(doi: str, title: str, year: str, text: str) -> Fingerprint:
    """The fingerprint of a document from its record and cleaned text."""
    return Fingerprint(doi.strip().casefold(), norm_title(title), year.strip(), signature(text), len(text))


def duplicate_reason(new: Fingerprint, old: Fingerprint) -> str:
    """Why ``new`` is the same work as ``old`` ('' when it is not)."""
    if new.doi and new.doi == old.doi:
        return f"same DOI {new.doi}"
    if new.title and len(new.title) >= MIN_TITLE and new.title == old.title and new.year and new.year == old.year:
        return "same title and year"
    if new.chars and old.chars and min(new.chars, old.chars) >= NEAR_TEXT * max(new.chars, old.chars):
        sim = similarity(new.signature, old.signature)
        if sim >= NEAR_TEXT:
            return f"near-identical text (similarity {sim:.2f})"
    return ""


def find_duplicate(new: Fingerprint, known: Iterable[tuple[str, Fingerprint]]) -> tuple[str, str] | None:
    """The first known document ``new`` duplicates, with the reason (None when none)."""
    for doc_id, fp in known:
        if reason := duplicate_reason(new, fp):
            return doc_id, reason
    return None
