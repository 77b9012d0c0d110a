"""Ragas' metrics that need no LLM, scored per item: ROUGE-L and string similarity of the
answer to the reference, and context recall and precision of what was retrieved against the
reference contexts."""

import os
from functools import cache
from typing import Any

os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")

# docent's metric name -> Ragas' metric class name (in ragas.metrics).
ANSWER_METRICS = {"rouge_l": "RougeScore", "string_similarity": "NonLLMStringSimilarity"}
CONTEXT_METRICS = {
    "context_recall": "NonLLMContextRecall",
    "context_precision": "NonLLMContextPrecisionWithReference",
}


@cache
def _metric(name: str) -> Any:
    import ragas.metrics

    return getattr(ragas.metrics, name)()


def ragas_scores(
    *,
    question: str,
    response: str,
    reference: str | None,
    retrieved_contexts: list[str],
    reference_contexts: list[str],
) -> dict[str, float]:
    """The metrics the inputs allow: answer metrics need a reference, context metrics need
    reference contexts (an empty retrieval scores 0)."""
    from ragas.dataset_schema import SingleTurnSample

    sample = SingleTurnSample(
        user_input=question,
        response=response,
        reference=reference,
        retrieved_contexts=retrieved_contexts,
        reference_contexts=reference_contexts,
    )
    scores = {}
    if reference is not None:
        for name, metric in ANSWER_METRICS.items():
            scores[name] = float(_metric(metric).single_turn_score(sample))
    if reference_contexts:
        for name, metric in CONTEXT_METRICS.items():
            scores[name] = (
                float(_metric(metric).single_turn_score(sample)) if retrieved_contexts else 0.0
            )
    return scores
