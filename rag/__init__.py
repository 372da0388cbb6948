"""rag: cited answers over a folder of papers (Chinese and English), offline by default."""

__version__ = "0.1.0"
