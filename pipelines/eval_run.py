"""`docent eval` as the library runs it: plan a run (its gates checked against the set), then
run it through docent, scored and gated.

Apart from `pipelines.evaluate`, which imports Ragas (seconds) and the query pipeline: a set
that cannot be scored against its gates fails in `plan_eval`, before either loads.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.config import EvaluationSettings
from evaluation.datasets import EvalSet
from evaluation.gates import GateResult, check_gates
from evaluation.reports import read_baseline
from pipelines.config import Settings


@dataclass(frozen=True)
class EvalPlan:
    """A run whose gates are known to be scorable on its set: the settings, the set, the
    gates (`evaluation` with the added thresholds), and the baseline's per-item scores."""

    settings: Settings
    eval_set: EvalSet
    gates: EvaluationSettings
    baseline: dict[str, dict[str, float]] | None


@dataclass(frozen=True)
class EvalRun:
    """What a run gives: the JSON-ready report (`passed`, `summary`, `gates`, `items`), the
    gate results, and the baseline's per-item scores when one was given."""

    report: dict[str, Any]
    gates: list[GateResult]
    baseline: dict[str, dict[str, float]] | None


def plan_eval(
    settings: Settings,
    eval_set: EvalSet,
    thresholds: dict[str, float] | None = None,
    baseline: Path | None = None,
) -> EvalPlan:
    """Check, before anything heavy loads, that `eval_set` can be run and gated: its gates are
    `evaluation.thresholds` with `thresholds` added, and, with `baseline` (an earlier JSON
    report), the regression gates.

    Raises:
        ConfigError: a gate cannot be scored on this set, or the baseline is not a report.
    """
    gates = settings.evaluation.model_copy(
        update={"thresholds": {**settings.evaluation.thresholds, **(thresholds or {})}}
    )
    previous = read_baseline(baseline) if baseline else None
    check_gates(eval_set.format, eval_set.items, gates, eval_set.path.name)
    return EvalPlan(settings, eval_set, gates, previous)


def run_eval(plan: EvalPlan, on_item: Callable[[int], None] | None = None) -> EvalRun:
    """Run the planned set as its format asks (answers, intents, or retrieval over a BEIR
    corpus in its own collection), score it, and apply the gates.

    Usage:
    ```python
    plan = plan_eval(load_settings(), load_set(Path("golden.jsonl")), {"token_f1": 0.5})
    run = run_eval(plan)
    print(run.report["passed"], [gate.reason for gate in run.gates])
    ```
    """
    # Imported once the gates are known to be scorable: Ragas alone takes seconds.
    from pipelines.evaluate import (
        evaluate,
        evaluate_intents,
        evaluate_retrieval,
        retrieval_settings,
    )
    from pipelines.query.pipeline import QAPipeline

    settings, eval_set = plan.settings, plan.eval_set
    if eval_set.format == "beir":
        report, gates = evaluate_retrieval(
            retrieval_settings(settings, eval_set.path.resolve().name),
            eval_set.items,
            plan.gates,
            plan.baseline,
            on_item=on_item,
        )
        return EvalRun(report, gates, plan.baseline)
    intents = eval_set.format == "intents"
    qa = QAPipeline.from_settings(settings, routing=not intents)
    try:
        run = evaluate_intents if intents else evaluate
        report, gates = run(qa, eval_set.items, plan.gates, plan.baseline, on_item=on_item)
    finally:
        qa.close()
    return EvalRun(report, gates, plan.baseline)
