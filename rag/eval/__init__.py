"""Evaluation: gold files, the evaluator and its reports, the public suites, and the pytest plugin
(testing: the rag_eval fixture and assert_quality)."""
