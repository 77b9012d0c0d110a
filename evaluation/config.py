"""Configuration of the `evaluation` section: gates per metric and how they are judged."""

from pydantic import BaseModel, ConfigDict, Field

# Metrics of an answer run, each a per-item score in [0, 1]; the last four through Ragas.
ANSWER_METRICS = (
    "exact_match",
    "token_f1",
    "retrieval_hit",
    "answered",
    "rouge_l",
    "string_similarity",
    "context_recall",
    "context_precision",
)

# Metrics of a retrieval run on a BEIR set.
RETRIEVAL_METRICS = ("ndcg@10", "recall@100", "mrr@10")


class EvaluationSettings(BaseModel):
    """Gates: a minimum per metric (`thresholds`), judged on the bootstrap interval of its
    mean at `confidence`; against a baseline run, a drop of more than `max_drop` that is
    significant fails too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    thresholds: dict[str, float] = Field(default_factory=dict)
    max_drop: float = Field(default=0.0, ge=0, le=1)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
