"""The ingest stage: guards and readers that turn a scholar's files and libraries into sources, and what is
derived from their text (references, ...)."""
