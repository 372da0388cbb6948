"""Ingest: files in, documents out -- loading, PDF reading (pdf/, pages, ocr, pageview), cleaning,
chunking, metadata, reference lists (references/), Zotero and BibTeX libraries, duplicates."""
