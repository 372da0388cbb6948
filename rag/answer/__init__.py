"""The answer stage's question analysis: what a question asks for, read from its wording alone."""
