"""Ingest stage: reading source files into text and records (PDF layout, and what follows from it)."""
