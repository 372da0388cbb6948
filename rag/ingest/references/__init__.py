"""A document's own reference list: found at its end or in its notes, parsed into fields, in-text
citations linked to its entries, and entries matched to the library's documents (the citation graph)."""
