"""`docent eval`: run the query pipeline over an evaluation set, score it, and gate it."""

import time
from collections.abc import Callable
from typing import Any

from components.errors import ConfigError, DocentError
from evaluation.config import ANSWER_METRICS, RETRIEVAL_METRICS, EvaluationSettings
from evaluation.datasets import EvalItem, RetrievalSet
from evaluation.gates import GateResult, regression_gate, threshold_gate
from evaluation.metrics import (
    bootstrap_mean,
    exact_match,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    token_f1,
)
from evaluation.ragas_scoring import ragas_scores
from pipelines.config import Settings
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
    return _summarise(records, ANSWER_METRICS, settings, baseline, started)


def _summarise(records, known, settings, baseline, started):
    """Intervals per metric every record has, gates, and the JSON-ready report."""
    metrics = [m for m in known if all(m in r["scores"] for r in records)]
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
    report = {
        "passed": all(g.passed for g in gates),
        "items_scored": len(records),
        "errors": sum(1 for r in records if r.get("error")),
        "seconds": round(time.perf_counter() - started, 2),
        "summary": {m: interval.to_dict() for m, interval in summary.items()},
        "gates": [g.to_dict() for g in gates],
        "items": records,
    }
    return report, gates


def retrieval_settings(settings: Settings, name: str) -> Settings:
    """The settings of a retrieval run: its own collection, the top 100, no relevance floor."""
    store = settings.store.model_copy(update={"collection": f"beir-{name}"[:64]})
    retrieval = settings.retrieval.model_copy(
        update={"top_k": 100, "min_similarity": -1.0, "max_similarity_gap": 2.0}
    )
    return settings.model_copy(update={"store": store, "retrieval": retrieval})


def evaluate_retrieval(
    settings: Settings,
    beir: RetrievalSet,
    gates_settings: EvaluationSettings,
    baseline: dict[str, dict[str, float]] | None = None,
    on_item: Callable[[int], None] | None = None,
) -> tuple[dict[str, Any], list[GateResult]]:
    """Ingest a BEIR corpus into its own collection (incrementally), search every query, and
    score the ranking: nDCG@10, recall@100 and MRR@10, with intervals and gates.

    `settings` should come from `retrieval_settings`.
    """
    indexer = settings.open_indexer()
    try:
        ingest = indexer.ingest_records(
            ((i, d["title"], d["text"]) for i, d in beir.corpus.items()), namespace="beir"
        )
    finally:
        indexer.close()
    qa = QAPipeline.from_settings(settings)
    records = []
    started = time.perf_counter()
    try:
        for query_id, text in beir.queries.items():
            ranked = list(dict.fromkeys(d.meta["source"].split(":", 1)[1] for d in qa.search(text)))
            relevance = beir.qrels[query_id]
            scores = {
                "ndcg@10": ndcg_at_k(ranked, relevance, 10),
                "recall@100": recall_at_k(ranked, relevance, 100),
                "mrr@10": reciprocal_rank(ranked, relevance, 10),
            }
            records.append({"id": query_id, "question": text, "top": ranked[:10], "scores": scores})
            if on_item:
                on_item(len(records))
    finally:
        qa.close()
    report, gates = _summarise(records, RETRIEVAL_METRICS, gates_settings, baseline, started)
    report["ingest"] = {
        "ingested": ingest.count("ingested"),
        "unchanged": ingest.count("unchanged"),
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
