"""`docent eval`: run the query pipeline over an evaluation set, score it, and gate it."""

import time
from collections.abc import Callable
from typing import Any

from components.errors import ConfigError, DocentError
from evaluation.config import ANSWER_METRICS, EvaluationSettings
from evaluation.datasets import EvalItem
from evaluation.gates import GateResult, regression_gate, threshold_gate
from evaluation.metrics import bootstrap_mean, exact_match, token_f1
from evaluation.ragas_scoring import ragas_scores
from pipelines.qa import QAPipeline


def evaluate(
    qa: QAPipeline,
    items: list[EvalItem],
    settings: EvaluationSettings,
    baseline: dict[str, dict[str, float]] | None = None,
    on_item: Callable[[int], None] | None = None,
) -> tuple[dict[str, Any], list[GateResult]]:
    """Ask every question, score each answer, summarise with intervals and apply the gates.

    Returns the JSON-ready report (`passed`, `summary` per metric, `gates`, `items` with
    their scores) and the gate results.

    Per item: `exact_match` and `token_f1` against the references, `retrieval_hit` (a
    retrieved chunk comes from one of `reference_ids`, matched as the end of its source path)
    and `answered` (the pipeline did not abstain); through Ragas, `rouge_l` and
    `string_similarity` against the first reference, and `context_recall` and
    `context_precision` of the retrieved chunks against `reference_contexts`. A question whose
    models all fail scores 0 and keeps the error.

    Raises:
        ConfigError: a gate names a metric the set cannot score, or the set is empty.
    """
    if not items:
        raise ConfigError("the evaluation set has no items")
    started = time.perf_counter()
    records = []
    for item in items:
        records.append(_score(qa, item))
        if on_item:
            on_item(len(records))
    metrics = [m for m in ANSWER_METRICS if all(m in r["scores"] for r in records)]
    unknown = sorted(set(settings.thresholds) - set(metrics))
    if unknown:
        raise ConfigError(
            f"evaluation.thresholds: this set cannot score {', '.join(unknown)}; it scores "
            f"{', '.join(metrics)}"
        )
    summary = {
        m: bootstrap_mean([r["scores"][m] for r in records], confidence=settings.confidence)
        for m in metrics
    }
    gates: list[GateResult] = [
        threshold_gate(m, [r["scores"][m] for r in records], t, settings.confidence)
        for m, t in settings.thresholds.items()
    ]
    if baseline is not None:
        gates += _regressions(records, baseline, metrics, settings)
    seconds = time.perf_counter() - started
    report = {
        "passed": all(g.passed for g in gates),
        "items_scored": len(records),
        "errors": sum(1 for r in records if r.get("error")),
        "seconds": round(seconds, 2),
        "summary": {m: interval.to_dict() for m, interval in summary.items()},
        "gates": [g.to_dict() for g in gates],
        "items": records,
    }
    return report, gates


def _score(qa: QAPipeline, item: EvalItem) -> dict[str, Any]:
    started = time.perf_counter()
    record: dict[str, Any] = {"id": item.id, "question": item.question}
    try:
        answer = qa.ask(item.question)
        reply, decision = answer.answer, answer.decision
        retrieved = qa.search(item.question)
    except DocentError as e:
        reply, decision, retrieved = "", "error", []
        record["error"] = str(e)
    sources = [d.meta.get("source", "") for d in retrieved]
    scores: dict[str, float] = {"answered": float(decision not in ("abstain", "error"))}
    if item.references:
        scores["exact_match"] = exact_match(reply, item.references)
        scores["token_f1"] = token_f1(reply, item.references)
    if item.reference_ids:
        scores["retrieval_hit"] = float(
            any(s.endswith(ref) for s in sources for ref in item.reference_ids)
        )
    scores.update(
        ragas_scores(
            question=item.question,
            response=reply,
            reference=item.references[0] if item.references else None,
            retrieved_contexts=[d.content or "" for d in retrieved],
            reference_contexts=list(item.reference_contexts),
        )
    )
    record.update(
        answer=reply,
        references=list(item.references),
        decision=decision,
        scores=scores,
        seconds=round(time.perf_counter() - started, 3),
    )
    return record


def _regressions(records, baseline, metrics, settings) -> list[GateResult]:
    paired = [r for r in records if r["id"] in baseline]
    if not paired:
        raise ConfigError("the baseline report has none of this set's items; compare like runs")
    gates = []
    for metric in metrics:
        both = [r for r in paired if metric in baseline[r["id"]]]
        if both:
            gates.append(
                regression_gate(
                    metric,
                    [r["scores"][metric] for r in both],
                    [baseline[r["id"]][metric] for r in both],
                    settings.max_drop,
                    settings.confidence,
                )
            )
    return gates
