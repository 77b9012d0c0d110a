"""`docent eval`: run the query pipeline over an evaluation set, score it, and gate it."""

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from components.embedding.backends import sentence_encoder
from components.errors import ConfigError, DocentError
from components.generation.cited_answer_builder import strip_citations
from components.shipped_models import embedding_model_path
from evaluation.config import (
    ANSWER_METRICS,
    INTENT_METRICS,
    JUDGE_METRICS,
    LOWER_IS_BETTER,
    RETRIEVAL_METRICS,
    EvaluationSettings,
)
from evaluation.datasets import OUT_OF_SCOPE_LABELS, EvalItem, RetrievalSet
from evaluation.gates import GateResult, check_gates, regression_gate, threshold_gate
from evaluation.metrics import (
    Interval,
    answer_correct,
    bootstrap_mean,
    exact_match,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    token_f1,
)
from evaluation.ragas_scoring import (
    LocalEmbedding,
    RagasJudge,
    judged_scores,
    ragas_scores,
)
from pipelines.config import NO_INTENTS, Settings
from pipelines.query.intents import OUT_OF_SCOPE
from pipelines.query.pipeline import QAPipeline


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

    Per item: with key `answers`, `answer_correct` (answered, and a key answer is in the
    answer as whole words) and `wrong` (answered without one); for an `unanswerable` item,
    `abstained_correctly`, and `wrong` when it was answered. `exact_match` and `token_f1`
    against the references, `retrieval_hit` (a
    retrieved chunk comes from one of `reference_ids`, matched as the end of its source path)
    and `answered` (the pipeline did not abstain); through Ragas, `rouge_l`,
    `string_similarity` and `semantic_similarity` (the local embedding model) against the
    first reference, and `context_recall` and `context_precision` of the retrieved chunks
    against `reference_contexts`. With `settings.judge_model`, the judged metrics of
    `settings.judge_metrics` too, each averaged over `judge_repeats` runs (every run is kept
    in the item's `judge_runs`). A question whose models all fail scores 0 and keeps the
    error; a judge that fails leaves its metrics undefined for that item (`judge_error`).

    Raises:
        ConfigError: a gate names a metric the set cannot score, the set is empty, or the
            judge is not a configured model.
        DocentError: questions would retrieve from an empty collection.
    """
    if not items:
        raise ConfigError("the evaluation set has no items")
    check_gates("jsonl", items, settings, "the evaluation set")
    qa.check_ready()  # an empty collection would score every question 0
    embedding = LocalEmbedding(sentence_encoder(embedding_model_path(qa.settings.embedding.model)))
    judge = None
    if settings.judge_model is not None:
        judge_name = settings.judge_model
        if judge_name not in qa.settings.models:
            raise ConfigError(
                f"evaluation.judge_model: unknown model {judge_name!r}; "
                f"known: {', '.join(qa.settings.models)}"
            )

        def complete(prompt: str, schema: dict[str, Any]) -> Any:
            return qa.complete(prompt, schema, models=[judge_name]).data

        judge = RagasJudge(complete, qa.settings.models[judge_name].max_new_tokens)
    started = time.perf_counter()
    records = []
    for item in items:
        records.append(_score(qa, item, embedding, judge, settings))
        if on_item:
            on_item(len(records))
    known = ANSWER_METRICS + (JUDGE_METRICS if judge is not None else ())
    report, gates = _summarise(records, known, settings, baseline, started)
    if judge is not None:
        report["judge"] = {
            "model": settings.judge_model,
            "repeats": settings.judge_repeats,
            "calls": judge.calls,
        }
    return report, gates


def _summarise(records, known, settings, baseline, started):
    """Intervals per metric the records score, gates, and the JSON-ready report.

    A score of None (a judge could not define it for that item) is left out of its metric's
    interval and counted in the summary as `undefined`.
    """
    metrics = [m for m in known if any(m in r["scores"] for r in records)]
    unknown = sorted(set(settings.thresholds) - set(metrics))
    if unknown:
        raise ConfigError(
            f"evaluation.thresholds: this set cannot score {', '.join(unknown)}; it scores "
            f"{', '.join(metrics)}"
        )
    values = {
        m: [r["scores"][m] for r in records if r["scores"].get(m) is not None] for m in metrics
    }
    summary = {}
    for metric in metrics:
        if values[metric]:
            interval = bootstrap_mean(values[metric], confidence=settings.confidence)
            summary[metric] = {**interval.to_dict(), "undefined": len(records) - interval.n}
    gates = [
        _threshold(m, values[m], t, len(records), settings) for m, t in settings.thresholds.items()
    ]
    if baseline is not None:
        gates += _regressions(records, baseline, metrics, settings)
    report = {
        "passed": all(g.passed for g in gates),
        "items_scored": len(records),
        "errors": sum(1 for r in records if r.get("error")),
        "seconds": round(time.perf_counter() - started, 2),
        "thresholds": dict(settings.thresholds),
        "summary": summary,
        "gates": [g.to_dict() for g in gates],
        "items": records,
    }
    return report, gates


def _threshold(metric, values, threshold, items, settings) -> GateResult:
    """The threshold gate of one metric; items it left undefined are named in the reason."""
    if not values:
        why = f"{metric}: no item could be scored (see the items' judge errors in the report)"
        return GateResult(metric, "threshold", False, Interval(0.0, 0.0, 0.0, 0), threshold, why)
    gate = threshold_gate(
        metric, values, threshold, settings.confidence, lower_is_better=metric in LOWER_IS_BETTER
    )
    if len(values) < items:
        scored = f"; {len(values)} of {items} items scored, the others left out"
        return dataclasses.replace(gate, reason=gate.reason + scored)
    return gate


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
    check_gates("beir", beir, gates_settings, "the BEIR set")
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
    if settings.retrieval.fusion == "rrf":
        report["note"] = (
            "retrieval.fusion rrf fuses the top 10 chunks of each list inside Qdrant, so "
            "recall@100 counts at most 20 chunks; retrieval.fusion: score fuses "
            "retrieval.candidates of each"
        )
    return report, gates


def evaluate_intents(
    qa: QAPipeline,
    examples: list[tuple[str, str]],
    settings: EvaluationSettings,
    baseline: dict[str, dict[str, float]] | None = None,
    on_item: Callable[[int], None] | None = None,
) -> tuple[dict[str, Any], list[GateResult]]:
    """Classify every `(text, intent)` with the configured intent classifier and gate it.

    Per item: `intent_accuracy`, and `in_scope_accuracy` or `out_of_scope_recall` by the gold
    label (an item labelled oos/out_of_scope is right when the classifier rejects it); each
    is summarised over the items it applies to.

    Raises:
        ConfigError: no intents are configured, a label is not one of them, or the set is
            empty.
    """
    if not examples:
        raise ConfigError("the intent set has no items")
    check_gates("intents", examples, settings, "the intent set")
    if not qa.intents:
        raise ConfigError(NO_INTENTS)
    unknown = sorted({i for _, i in examples} - set(qa.intents) - OUT_OF_SCOPE_LABELS)
    if unknown:
        raise ConfigError(
            f"the set's intents {', '.join(unknown[:5])} are not intents of the configuration; "
            "evaluate with the configuration that defines them (--config)"
        )
    started = time.perf_counter()
    records = []
    for number, (text, gold) in enumerate(examples):
        result = qa.classify(text)
        expected = OUT_OF_SCOPE if gold in OUT_OF_SCOPE_LABELS else gold
        right = float(result["intent"] == expected)
        in_scope = expected != OUT_OF_SCOPE
        records.append(
            {
                "id": str(number),
                "question": text,
                "answer": result["intent"],
                "references": [gold],
                "confidence": result["confidence"],
                "scores": {
                    "intent_accuracy": right,
                    "in_scope_accuracy": right if in_scope else None,
                    "out_of_scope_recall": None if in_scope else right,
                },
            }
        )
        if on_item:
            on_item(len(records))
    for record in records:
        record["scores"] = {m: v for m, v in record["scores"].items() if v is not None}
    return _summarise(records, INTENT_METRICS, settings, baseline, started)


def _score(
    qa: QAPipeline,
    item: EvalItem,
    embedding: LocalEmbedding,
    judge: RagasJudge | None,
    settings: EvaluationSettings,
) -> dict[str, Any]:
    started = time.perf_counter()
    record: dict[str, Any] = {"id": item.id, "question": item.question}
    try:
        answer = qa.ask(item.question)
        reply, decision = answer.answer, answer.decision
        # An extractive answer claims its span; the sentence it quotes is the evidence, and
        # is not scored as the answer (a wrong span would pass on a right sentence).
        claimed = ((answer.verification or {}).get("extractive") or {}).get("span")
        retrieved = qa.search(item.question)
    except DocentError as e:
        reply, decision, retrieved, claimed = "", "error", [], None
        record["error"] = str(e)
    sources = [d.meta.get("source", "") for d in retrieved]
    answered = decision not in ("abstain", "error")
    scores: dict[str, float] = {"answered": float(answered)}
    # The citation markers are not part of the answer's text.
    text = strip_citations(reply).strip()
    short = claimed if claimed and answered else text
    if item.answers:
        correct = answered and bool(answer_correct(short, item.answers))
        scores["answer_correct"] = float(correct)
        scores["wrong"] = float(answered and not correct)
    if item.unanswerable:
        scores["abstained_correctly"] = float(not answered)
        scores["wrong"] = float(answered)
    if item.references:
        scores["exact_match"] = exact_match(short, item.references)
        scores["token_f1"] = token_f1(short, item.references)
    if item.reference_ids:
        scores["retrieval_hit"] = float(
            any(_same_source(s, ref) for s in sources for ref in item.reference_ids)
        )
    reference = item.references[0] if item.references else None
    contexts = [d.content or "" for d in retrieved]
    scores.update(
        ragas_scores(
            question=item.question,
            response=text,
            reference=reference,
            retrieved_contexts=contexts,
            reference_contexts=list(item.reference_contexts),
            embedding=embedding,
        )
    )
    if judge is not None:
        try:
            judged, runs = judged_scores(
                judge,
                embedding,
                question=item.question,
                response=text,
                reference=reference,
                retrieved_contexts=contexts,
                metrics=settings.judge_metrics,
                repeats=settings.judge_repeats,
            )
        except (DocentError, ValueError) as e:
            judged = {name: None for name in settings.judge_metrics}
            runs = {}
            record["judge_error"] = str(e)
        scores.update(judged)
        record["judge_runs"] = runs
    record.update(
        answer=reply,
        references=list(item.references),
        contexts=[
            {"source": d.meta.get("source", ""), "text": (d.content or "")[:500]}
            for d in retrieved[:5]
        ],
        decision=decision,
        scores=scores,
        seconds=round(time.perf_counter() - started, 3),
    )
    return record


def _same_source(source: str, reference: str) -> bool:
    """Whether a chunk's source is the reference: the same, or a path or record id ending in
    it (`docs/faq.md` matches `faq.md`; `squad:0-1` matches `0-1` but not `10-1`)."""
    return source == reference or source.endswith(("/" + reference, ":" + reference))


def _regressions(records, baseline, metrics, settings) -> list[GateResult]:
    paired = [r for r in records if r["id"] in baseline]
    if not paired:
        raise ConfigError("the baseline report has none of this set's items; compare like runs")
    gates = []
    for metric in metrics:
        both = [
            r
            for r in paired
            if r["scores"].get(metric) is not None and baseline[r["id"]].get(metric) is not None
        ]
        if both:
            gates.append(
                regression_gate(
                    metric,
                    [r["scores"][metric] for r in both],
                    [baseline[r["id"]][metric] for r in both],
                    settings.max_drop,
                    settings.confidence,
                    lower_is_better=metric in LOWER_IS_BETTER,
                )
            )
    return gates
