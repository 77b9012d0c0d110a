"""Where a support request's time goes, and what orchestration itself costs.

Ingests samples/support with configs/support.yaml into a temporary data directory, then sends
a mix of support messages (answered from the documents, small talk, handoffs, out of scope)
through the warm pipeline several times. For each request it splits the time into:
- model calls: the seconds of every generation call (`models_tried`);
- model-based stages: dense query embedding, intent classification and verification (each runs
  MiniLM once);
- orchestration: everything else (routing, Qdrant search and filtering, packing with the
  model's tokenizer, fallback bookkeeping, citations, masking, handoff records).

Prints p50/p95 per part and the share of the total. Target: orchestration p50 under 30 ms.

Usage:
    .venv/bin/python bench/orchestration.py [--rounds 3]
"""

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from common import percentile

import components  # noqa: F401  (offline defaults)
from pipelines.config import load_settings
from pipelines.query.pipeline import QAPipeline

REPO = Path(__file__).resolve().parents[1]
MESSAGES = [
    "How long is a password reset link valid?",
    "Within how many days can I get a refund for a new subscription?",
    "What does error E503 mean?",
    "How long is my account locked after too many failed sign-ins?",
    "Which payment methods do you accept?",
    "Hi there!",
    "I want to talk to a human",
    "What's the weather in Paris?",
]
MODEL_STAGES = ("embed_dense", "classify", "verify")


def main() -> None:
    """Run the benchmark and print the table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="times each message is sent")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        settings = load_settings(REPO / "configs" / "support.yaml").model_copy(
            update={"data_dir": Path(data)}
        )
        indexer = settings.open_indexer()
        try:
            indexer.ingest([REPO / "samples" / "support"])
        finally:
            indexer.close()
        qa = QAPipeline.from_settings(settings)
        qa.warm_up()
        qa.ask(MESSAGES[0])
        parts: dict[str, list[float]] = {
            "total": [],
            "model calls": [],
            "embedding stages": [],
            "orchestration": [],
        }
        decisions: dict[str, int] = {}
        try:
            for _ in range(args.rounds):
                for message in MESSAGES:
                    answer = qa.ask(message)
                    decisions[answer.decision] = decisions.get(answer.decision, 0) + 1
                    total = answer.timings["total"]
                    calls = sum(c["seconds"] for c in answer.models_tried)
                    embedding = sum(answer.timings.get(stage, 0.0) for stage in MODEL_STAGES)
                    parts["total"].append(total)
                    parts["model calls"].append(calls)
                    parts["embedding stages"].append(embedding)
                    parts["orchestration"].append(max(0.0, total - calls - embedding))
        finally:
            qa.close()
    print(f"{len(parts['total'])} requests; decisions: {decisions}")
    print(f"{'part':<18}{'p50 ms':>10}{'p95 ms':>10}{'share of total':>16}")
    whole = sum(parts["total"])
    for name, values in parts.items():
        print(
            f"{name:<18}{1000 * statistics.median(values):>10.1f}"
            f"{1000 * percentile(values, 0.95):>10.1f}{sum(values) / whole:>16.1%}"
        )
    summary = {name: round(1000 * statistics.median(v), 2) for name, v in parts.items()}
    print(json.dumps({"p50_ms": summary, "decisions": decisions, "target_ms": 30}))


if __name__ == "__main__":
    main()
