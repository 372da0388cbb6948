"""References out: citation styles (GB/T 7714, APA), the answer's text with its reference list, and
BibTeX / RIS / CSL-JSON export."""
