"""Ingest stage: guards and readers that turn a scholar's files and libraries into sources."""
