"""End to end on XQuAD (English): retrieval, answers and the runtime gate with the local model.

The 120 paragraphs of `../shared/data/xquad_en` are ingested as records into a temporary data
directory (docent's own chunker, MiniLM and BM25); then `docent eval`'s scorer asks every
question through the default query pipeline (hybrid retrieval, the relevance gate, the shipped
Gemma 3 270M, citations, verification) and scores it:
- retrieval hit@5: a passage the pipeline kept (at most top_k = 5) comes from the question's
  paragraph;
- exact match and token F1 (SQuAD's normalisation; citation markers removed) against the
  gold answers;
- the gate's decisions (pass or abstain) and seconds per question.

The answer modes run on the same store: "extractive" (the default for the shipped model: a
span of the five sentences most like the question, shown only when it is theirs; scored by
that span), and the model writing freely (`generation: generative`) in the "sentence" style (a
cited sentence) or the "short" style (the span answering a factoid question, from the
retrieved sentence most like it). Prints the figures with bootstrap 95 % intervals and the
share of answered questions that are wrong (no gold answer in the claimed answer). Target:
token F1 >= 0.55 with wrong answers <= 10 % of those answered.

Usage:
    .venv/bin/python bench/xquad.py [--data ../shared/data/xquad_en]
        [--modes extractive,sentence,short]
        [--sample N] [-o runs.json]
"""

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

import components  # noqa: F401  (offline defaults)
from evaluation.config import EvaluationSettings
from evaluation.datasets import load_squad
from pipelines.config import Settings
from pipelines.evaluate import evaluate
from pipelines.query.pipeline import QAPipeline

REPO = Path(__file__).resolve().parents[1]
TARGET_F1 = 0.55


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/xquad_en")
    parser.add_argument(
        "--modes",
        default="extractive,short",
        help="answer modes to compare: extractive, sentence, short (generative styles)",
    )
    parser.add_argument("--sample", type=int, help="only N questions, evenly spread")
    parser.add_argument("-o", "--output", type=Path, help="write the reports as JSON")
    args = parser.parse_args()
    source = args.data / "squad_v1.json"
    if not source.is_file():
        sys.exit(f"{source} not found: pass --data DIR with XQuAD's squad_v1.json")
    items, paragraphs = load_squad(source)
    if args.sample:
        items = items[:: max(1, len(items) // args.sample)][: args.sample]
    reports = {}
    with tempfile.TemporaryDirectory(prefix="docent-xquad-") as folder:
        base = Settings(data_dir=Path(folder))
        started = time.perf_counter()
        indexer = base.open_indexer()
        try:
            indexer.ingest_records(
                ((pid, "", text) for pid, text in paragraphs.items()), namespace="xquad"
            )
        finally:
            indexer.close()
        print(
            f"XQuAD en: {len(paragraphs)} paragraphs ingested in "
            f"{time.perf_counter() - started:.1f} s; {len(items)} questions"
        )
        for style in args.modes.split(","):
            generative = style != "extractive"
            settings = Settings.model_validate(
                {
                    "data_dir": folder,
                    "models": {
                        "gemma-3-270m": {"generation": "generative" if generative else "extractive"}
                    },
                    "routes": {"question": {"answer_style": style if generative else "sentence"}},
                }
            )
            qa = QAPipeline.from_settings(settings)
            qa.warm_up()
            try:
                reports[style], _ = evaluate(
                    qa, items, EvaluationSettings(), on_item=_progress(style, len(items))
                )
            finally:
                qa.close()
            _print(style, reports[style])
    if args.output:
        args.output.write_text(json.dumps(reports, indent=2, ensure_ascii=False))


def _progress(style: str, total: int):
    def show(n: int) -> None:
        if n % 50 == 0:
            print(f"  {style}: {n}/{total} questions", file=sys.stderr, flush=True)

    return show


def _print(style: str, report: dict) -> None:
    decisions = collections.Counter(item["decision"] for item in report["items"])
    seconds = sorted(item["seconds"] for item in report["items"])
    summary = report["summary"]
    print(f"answers {style!r}:")
    for metric in ("retrieval_hit", "exact_match", "token_f1", "rouge_l", "answered"):
        s = summary[metric]
        label = "retrieval hit@5" if metric == "retrieval_hit" else metric
        print(f"  {label:18} {s['mean']:.3f}  (95% CI {s['low']:.3f}-{s['high']:.3f})")
    print(
        f"  seconds/question   p50 {seconds[len(seconds) // 2]:.2f}, "
        f"mean {sum(seconds) / len(seconds):.2f} (scoring included)"
    )
    print(f"  gate decisions     {dict(decisions)}")
    answered = [i for i in report["items"] if i["scores"]["answered"]]
    wrong = sum(
        1 for i in answered if i["scores"]["exact_match"] == 0 and i["scores"]["token_f1"] < 0.5
    )
    share = wrong / len(answered) if answered else 0.0
    print(
        f"  wrong (F1 < 0.5) of answered: {share:.3f} ({wrong} of {len(answered)}); target <= 0.10"
    )
    f1 = summary["token_f1"]["mean"]
    print(f"  target token F1 >= {TARGET_F1}: {'met' if f1 >= TARGET_F1 else 'NOT met'}")


if __name__ == "__main__":
    main()
