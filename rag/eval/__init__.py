"""Evaluation: gold files, the evaluator and its reports, the public suites, and the pytest plugin
(testing: rag_eval, assert_quality, milvus_server)."""
