"""Quality gates that a noisy score cannot fool: thresholds and regressions judged on bootstrap
confidence intervals, each verdict with the reason in words; and the check, before anything
runs, that a set can score every gate asked of it."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.errors import ConfigError
from evaluation.config import (
    ANSWER_METRICS,
    INTENT_METRICS,
    JUDGE_METRICS,
    JUDGE_NEEDS,
    RETRIEVAL_METRICS,
    EvaluationSettings,
)
from evaluation.datasets import OUT_OF_SCOPE_LABELS, EvalItem
from evaluation.metrics import Interval, bootstrap_difference, bootstrap_mean


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict on one metric."""

    metric: str
    kind: str  # "threshold" or "regression"
    passed: bool
    interval: Interval
    limit: float
    reason: str

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {
            "metric": self.metric,
            "kind": self.kind,
            "passed": self.passed,
            "interval": self.interval.to_dict(),
            "limit": self.limit,
            "reason": self.reason,
        }


def threshold_gate(
    metric: str,
    scores: Sequence[float],
    threshold: float,
    confidence: float = 0.95,
    lower_is_better: bool = False,
) -> GateResult:
    """Fails only when the whole confidence interval of the mean lies below `threshold` (above
    it, for a metric where less is better, such as the share of wrong answers): a small sample
    that might meet it is not failed on chance, and one that surely misses it is.
    """
    interval = bootstrap_mean(scores, confidence=confidence)
    passed = interval.low <= threshold if lower_is_better else interval.high >= threshold
    side = "above the maximum" if lower_is_better else "below the threshold"
    where = (
        f"{metric} = {interval.mean:.3f} (95% CI {interval.low:.3f}–{interval.high:.3f}, "
        f"n={interval.n})"
    )
    if passed:
        reason = f"{where} does not lie {side} {threshold:g}"
    else:
        reason = f"{where}: the whole interval lies {side} {threshold:g}"
    return GateResult(metric, "threshold", passed, interval, threshold, reason)


def regression_gate(
    metric: str,
    current: Sequence[float],
    baseline: Sequence[float],
    max_drop: float = 0.0,
    confidence: float = 0.95,
    lower_is_better: bool = False,
) -> GateResult:
    """Fails when the run is significantly worse than the baseline on the same items: the
    whole interval of the paired difference lies below `-max_drop` (above `max_drop` for a
    metric where less is better)."""
    interval = bootstrap_difference(current, baseline, confidence=confidence)
    if lower_is_better:
        passed, limit, change = interval.low <= max_drop, max_drop, "rise"
    else:
        passed, limit, change = interval.high >= -max_drop, -max_drop, "drop"
    where = (
        f"{metric} changed by {interval.mean:+.3f} against the baseline (95% CI "
        f"{interval.low:+.3f} to {interval.high:+.3f}, n={interval.n})"
    )
    if passed:
        reason = f"{where}: no significant {change} beyond {max_drop:g}"
    else:
        reason = f"{where}: a significant {change} beyond {max_drop:g}"
    return GateResult(metric, "regression", passed, interval, limit, reason)


# What an item of an answer set must have for `pipelines.evaluate` to score each metric: any
# one of the named keys (as written in a JSON Lines set) on at least one item.
ANSWER_NEEDS: dict[str, tuple[str, ...]] = {
    "answer_correct": ("answers",),
    "wrong": ("answers", "unanswerable"),
    "abstained_correctly": ("unanswerable",),
    "exact_match": ("reference",),
    "token_f1": ("reference",),
    "retrieval_hit": ("reference_ids",),
    "answered": (),
    "rouge_l": ("reference",),
    "string_similarity": ("reference",),
    "semantic_similarity": ("reference",),
    "context_recall": ("reference_contexts",),
    "context_precision": ("reference_contexts",),
    **{m: ("reference",) if "reference" in JUDGE_NEEDS[m] else () for m in JUDGE_METRICS},
}
# Each key of an answer set, as the advice names it.
_KEYS = {
    "answers": '"answers" (key answers a right answer holds, e.g. "answers": ["27 months"])',
    "unanswerable": '"unanswerable": true (on questions the documents cannot answer)',
    "reference": '"reference" (a reference answer)',
    "reference_ids": '"reference_ids" (the documents that hold the answer, e.g. '
    '"reference_ids": ["warranty.md"])',
    "reference_contexts": '"reference_contexts" (passages that hold the answer)',
}
_FIELDS = {
    "answers": "answers",
    "unanswerable": "unanswerable",
    "reference": "references",
    "reference_ids": "reference_ids",
    "reference_contexts": "reference_contexts",
}
_NAMES = {
    "answers": "an answer set (jsonl, squad)",
    "intents": "an intent set",
    "retrieval": "a BEIR retrieval set",
}
# The metrics of each kind of set.
_KINDS = {
    "answers": ANSWER_METRICS + JUDGE_METRICS,
    "intents": INTENT_METRICS,
    "retrieval": RETRIEVAL_METRICS,
}


def scorable_metrics(
    fmt: str, entries: Any, settings: EvaluationSettings | None = None
) -> tuple[str, ...]:
    """The metrics `docent eval` can score on a loaded set, by its format: for an answer set
    (jsonl, squad) those its items have the keys for (see `ANSWER_NEEDS`; the judged ones
    only with `settings.judge_model`); for an intent set (`(text, intent)` pairs) the intent
    metrics its labels allow; for a BEIR set the retrieval metrics."""
    if fmt == "beir":
        return RETRIEVAL_METRICS
    if fmt == "intents":
        labels = {intent for _, intent in entries}
        present = {
            "intent_accuracy": bool(labels),
            "in_scope_accuracy": bool(labels - OUT_OF_SCOPE_LABELS),
            "out_of_scope_recall": bool(labels & OUT_OF_SCOPE_LABELS),
        }
        return tuple(m for m in INTENT_METRICS if present[m])
    judged = tuple(settings.judge_metrics) if settings and settings.judge_model else ()
    return tuple(
        m
        for m in ANSWER_METRICS + judged
        if not ANSWER_NEEDS[m] or any(_has(entries, key) for key in ANSWER_NEEDS[m])
    )


def check_gates(
    fmt: str, entries: Any, settings: EvaluationSettings, set_name: str = "the set"
) -> None:
    """Refuse, before any question runs, a threshold gate the set cannot score.

    Raises:
        ConfigError: naming each such gate, the set, and what to do (give the set the key
            the metric needs, configure a judge, or remove the gate).
    """
    scorable = scorable_metrics(fmt, entries, settings)
    kind = {"beir": "retrieval", "intents": "intents"}.get(fmt, "answers")
    unscorable = [metric for metric in settings.thresholds if metric not in scorable]
    if unscorable:
        problems = [f"{metric}: {_why(metric, fmt, kind, settings)}" for metric in unscorable]
        raise ConfigError(
            f"{set_name} ({fmt}) cannot score {', '.join(unscorable)}, gated by "
            "evaluation.thresholds or --threshold:\n  "
            + "\n  ".join(problems)
            + f"\nIt scores {', '.join(scorable) or 'nothing'}. Remove the other gates (the "
            "--threshold option, or the key in evaluation.thresholds), or give the set what "
            "they need."
        )


def _why(metric: str, fmt: str, kind: str, settings: EvaluationSettings) -> str:
    """Why a set of format `fmt` cannot score `metric`, and what would let it."""
    owner = next((k for k, metrics in _KINDS.items() if metric in metrics), None)
    if owner is None:
        known = ", ".join(m for metrics in _KINDS.values() for m in metrics)
        return f"not a metric docent scores; the metrics are {known}"
    if owner != kind:
        return f"scored only on {_NAMES[owner]}, and this is {_NAMES[kind]}"
    if metric in JUDGE_METRICS and (
        settings.judge_model is None or metric not in settings.judge_metrics
    ):
        return (
            "an LLM-judged metric: set evaluation.judge_model to a capable model (and keep "
            f"{metric} in evaluation.judge_metrics)"
        )
    if metric == "in_scope_accuracy":
        return "no item is labelled with an in-scope intent"
    if metric == "out_of_scope_recall":
        return f"no item is labelled out of scope ({', '.join(sorted(OUT_OF_SCOPE_LABELS))})"
    keys = " or ".join(_KEYS[key] for key in ANSWER_NEEDS[metric])
    if fmt == "squad":
        return (
            f"it needs {keys} on the items, which SQuAD does not have; convert the set to "
            "JSON Lines with that key"
        )
    return f"no item has {keys}; add it to the items that should be scored on it"


def _has(items: Sequence[EvalItem], key: str) -> bool:
    return any(getattr(item, _FIELDS[key]) for item in items)
