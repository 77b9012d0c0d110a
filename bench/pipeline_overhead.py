"""What running the query path as a Haystack Pipeline costs, against the same components
called directly, in the same process on the same store.

Ingests samples/handbook and samples/support into a temporary data directory and asks the
questions of `bench/kb_questions.jsonl` about them (`--questions`, cycled), alternating two
ways of running the same `QAPipeline`'s components on each question:
- pipeline: `QAPipeline.ask`, which runs `query_pipeline` (Haystack's `Pipeline.run`:
  input checks, scheduling, deep copies of the passages between components, a span per
  component);
- direct: the same components' `run` called in order (classify, search, injections, answer),
  the baseline.
Generation is the same work either way and is left out: each figure is the request's time
less its `generate` stage. The two ways must give the same answers; the script checks it.

Usage:
    .venv/bin/python bench/pipeline_overhead.py [--questions 60]
About 2 minutes.
"""

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

from common import REPO, percentile

import components  # noqa: F401  (offline defaults)
from components.generation.fallback_generator import Budget
from pipelines import timing
from pipelines.answer import Answer
from pipelines.config import Settings
from pipelines.query.pipeline import QAPipeline
from pipelines.query.turn import Turn


def direct(qa: QAPipeline, question: str) -> tuple[Answer, float]:
    """The answer with the pipeline's components called one after the other, and its time
    less generation."""
    part = qa.query_pipeline.get_component
    started = time.perf_counter()
    answer = Answer(question, "", [], False, trace_id=uuid.uuid4().hex)
    settings = qa.settings.budget
    turn = Turn(answer, Budget(settings.max_tokens, settings.max_cost))
    with timing.collect() as timings:
        branch = part("classify").run(query=question, turn=turn)
        if "rag" not in branch:
            raise SystemExit(f"{question!r} is not routed to rag; this compares the rag route")
        found = part("search").run(query=question)
        screened = part("injections").run(documents=found["documents"])
        part("answer").run(
            query=question,
            documents=screened["documents"],
            turn=turn,
            top_similarity=found["top_similarity"],
            fallback_used=found["fallback_used"],
            removed=screened["removed"],
        )
        answer.cost = round(turn.budget.cost, 8)
    return answer, time.perf_counter() - started - timings.get("generate", 0.0)


def piped(qa: QAPipeline, question: str) -> tuple[Answer, float]:
    """The answer through `QAPipeline.ask`, and its time less generation."""
    started = time.perf_counter()
    answer = qa.ask(question)
    return answer, time.perf_counter() - started - answer.timings.get("generate", 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=60)
    args = parser.parse_args()
    rows = [json.loads(line) for line in (REPO / "bench" / "kb_questions.jsonl").open()]
    asked = [
        r["question"]
        for r in rows
        if any(ref.startswith(("handbook/", "support/")) for ref in r.get("reference_ids", []))
    ]
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data), audit={"enabled": False})
        indexer = settings.open_indexer()
        try:
            indexer.ingest([REPO / "samples" / "handbook", REPO / "samples" / "support"])
        finally:
            indexer.close()
        qa = QAPipeline.from_settings(settings)
        try:
            qa.warm_up()
            for question in asked[:4]:  # first calls load caches either way
                piped(qa, question), direct(qa, question)
            seconds = {"pipeline": [], "direct": []}
            differ = 0
            for n in range(args.questions):
                question = asked[n % len(asked)]
                ways = [("pipeline", piped), ("direct", direct)]
                results = {}
                for name, way in ways if n % 2 else ways[::-1]:
                    answer, spent = way(qa, question)
                    seconds[name].append(spent)
                    results[name] = (answer.answer, answer.decision, answer.citations)
                differ += results["pipeline"] != results["direct"]
        finally:
            qa.close()
    print(f"{args.questions} questions over samples/handbook and samples/support")
    print("ms, time less generation   p50     p95")
    summary = {}
    for name, values in seconds.items():
        p50, p95 = percentile(values, 0.5) * 1000, percentile(values, 0.95) * 1000
        summary[name] = {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}
        print(f"{name:<24} {p50:7.2f} {p95:7.2f}")
    extra = summary["pipeline"]["p50_ms"] - summary["direct"]["p50_ms"]
    ratio = summary["pipeline"]["p50_ms"] / summary["direct"]["p50_ms"]
    print(
        f"pipeline over direct: {ratio:.3f}x p50 ({extra:+.2f} ms); answers that differ: {differ}"
    )
    print(json.dumps({**summary, "p50_ratio": round(ratio, 4), "answers_differ": differ}))


if __name__ == "__main__":
    main()
