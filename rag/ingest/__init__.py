"""The ingest stage: reading sources and what is derived from their text (references, ...)."""
