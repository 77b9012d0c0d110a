"""Configuration of the `evaluation` section: gates per metric and how they are judged."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Metrics of an answer run, each a per-item score in [0, 1]; from rouge_l on through Ragas.
# The first three count right answers: `answer_correct` (answered and holding a key answer),
# `wrong` (answered, but without a key answer, or answering an unanswerable question) and
# `abstained_correctly` (an unanswerable question abstained on).
ANSWER_METRICS = (
    "answer_correct",
    "wrong",
    "abstained_correctly",
    "exact_match",
    "token_f1",
    "retrieval_hit",
    "answered",
    "rouge_l",
    "string_similarity",
    "semantic_similarity",
    "context_recall",
    "context_precision",
)
# Metrics where less is better: a gate on one is a maximum, a regression is a rise.
LOWER_IS_BETTER = frozenset({"wrong"})
# Metrics a judge model scores, through Ragas' prompts.
JUDGE_METRICS = (
    "faithfulness",
    "response_relevancy",
    "llm_context_precision",
    "llm_context_recall",
)
# Judged metrics -> what each needs besides the question (a judged metric that needs a
# reference is not scored on an item without one).
JUDGE_NEEDS = {
    "faithfulness": ("response", "retrieved_contexts"),
    "response_relevancy": ("response",),
    "llm_context_precision": ("reference", "retrieved_contexts"),
    "llm_context_recall": ("reference", "retrieved_contexts"),
}

# Metrics of an intent set: every item, the in-scope items, the out-of-scope items.
INTENT_METRICS = ("intent_accuracy", "in_scope_accuracy", "out_of_scope_recall")

# Metrics of a retrieval run on a BEIR set.
RETRIEVAL_METRICS = ("ndcg@10", "recall@100", "mrr@10")


class EvaluationSettings(BaseModel):
    """Gates: a minimum per metric (`thresholds`; a maximum for `wrong`, where less is
    better), judged on the bootstrap interval of its mean at `confidence`; against a baseline
    run, a drop (for `wrong`, a rise) of more than `max_drop` that is significant fails too.

    `judge_model` (a name in `models`) scores the LLM-judged Ragas metrics of
    `judge_metrics`; each is averaged over `judge_repeats` runs, whose spread the report
    keeps (repeats vary only when the judge model samples: a `temperature` above 0). Give
    the judge room: `max_new_tokens` of 512 or more. `generator_model` writes
    test sets (`docent testset`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    thresholds: dict[str, float] = Field(default_factory=dict)
    max_drop: float = Field(default=0.0, ge=0, le=1)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    judge_model: str | None = None
    judge_repeats: int = Field(default=1, ge=1, le=20)
    judge_metrics: list[Literal[JUDGE_METRICS]] = list(JUDGE_METRICS)
    generator_model: str | None = None
