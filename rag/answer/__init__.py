"""Answering: retrieval, evidence selection, the answer model, generation (extractive or an LLM),
citations and their verification, conversation follow-ups; pipeline.Assistant ties them."""
