"""Literature-review answers: what each paper says about a question in several cited points, which papers
do not discuss it, a pooled answer grouped per paper, and the points papers share (`rag review`)."""

from rag.review.api import Agreement, Cell, QuestionReview, review_questions

__all__ = ["Agreement", "Cell", "QuestionReview", "review_questions"]
