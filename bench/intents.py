"""Measure the intent classifier on CLINC150 and Banking77, beside baselines in the same run.

Everything uses the shipped all-MiniLM-L6-v2, never fine-tuned, on the CPU. Figures:
- CLINC150: the examples are `train` plus `oos_train` (as out-of-scope examples); the
  out-of-scope threshold is chosen by 5-fold cross-validation on those examples alone,
  maximising 4.5 x in-scope accuracy + out-of-scope recall (the 4,500 : 1,000 mix of CLINC150's
  test split); without the oos_train examples, oos_train is scored by the classifier fitted on
  `train` instead. Then in-scope accuracy on `val` (a rejected in-scope query counts as wrong)
  and out-of-scope recall on `oos_val`, neither of which is used to tune anything; "no reject"
  is the accuracy on `val` when every query gets its best intent.
- Banking77: a seeded, stratified 20 % of `train.csv` is the test set, the rest the examples;
  accuracy without rejection (the set has no out-of-scope queries), and, as a steadier second
  figure, 5-fold cross-validated accuracy on the examples.
- seconds to fit the head on the CLINC150 examples (0 when read from --cache), and
  milliseconds per single-query `run()` after warm-up (median of 200 `val` queries).
Baselines: class centroids and 3-nearest-neighbour voting, through the same component (same
score, same examples, threshold chosen the same way); `logreg_knn` is also run without the
out-of-scope examples to show what they add.

Usage:
    .venv/bin/python bench/intents.py [--data ../shared/data] [--cache DIR] [--threads 1]
        [--backend onnx-int8]
Without --cache, embeddings and heads are cached in a temporary folder for this run only.
"""

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import components  # noqa: F401  (offline defaults)
from components.intent.intent_classifier import IntentClassifier
from components.shipped_models import embedding_model_path
from ingest.config import EmbeddingSettings

REPO = Path(__file__).resolve().parents[1]
OUT_OF_SCOPE = "out_of_scope"
# name -> (IntentClassifier settings, whether CLINC150's oos_train is given as examples)
METHODS = {
    "centroid": ({"method": "centroid"}, True),
    "3-NN": ({"method": "knn", "k": 3}, True),
    "logreg_knn, no oos_train": ({"method": "logreg_knn"}, False),
    "logreg_knn": ({"method": "logreg_knn"}, True),
}
DEFAULT = "logreg_knn"
BASELINES = ("centroid", "3-NN")
TARGETS = {"clinc_in_scope": 0.93, "clinc_oos_recall": 0.75, "banking77": 0.93, "ms": 20.0}


def progress(message: str) -> None:
    """Say what the benchmark is doing, on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pick_threshold(in_scope: list[tuple[dict, str]], outside: list[dict]) -> float:
    """The threshold that maximises 4.5 x in-scope accuracy + out-of-scope recall.

    :param in_scope: results, without a threshold, of in-scope queries, with their intents.
    :param outside: results, without a threshold, of out-of-scope queries.
    """

    def objective(threshold: float) -> float:
        accepted = [r["intent"] != OUT_OF_SCOPE and r["confidence"] >= threshold for r in outside]
        correct = [r["intent"] == g and r["confidence"] >= threshold for r, g in in_scope]
        return 4.5 * sum(correct) / len(correct) + 1 - sum(accepted) / len(outside)

    return max((t / 200 for t in range(200)), key=lambda t: (objective(t), -t))


def clinc(data: Path, settings: dict, with_oos: bool, cache: str) -> dict:
    """CLINC150 figures of one method: threshold, in-scope accuracy, OOS recall, fit, latency."""
    splits = json.loads((data / "clinc150" / "clinc150_dev.json").read_text())
    examples = [[text, intent] for text, intent in splits["train"]]
    if with_oos:
        examples += [[text, OUT_OF_SCOPE] for text, _ in splits["oos_train"]]
    model = embedding_model_path("all-MiniLM-L6-v2")
    tuning = IntentClassifier(
        model=model, examples=examples, out_of_scope_threshold=None, cache_dir=cache, **settings
    )
    tuning.warm_up()
    folds = list(zip(tuning.cross_validate(), [intent for _, intent in examples], strict=True))
    if with_oos:
        outside = [result for result, intent in folds if intent == OUT_OF_SCOPE]
    else:
        outside = tuning.classify_batch([text for text, _ in splits["oos_train"]])
    threshold = pick_threshold([(r, i) for r, i in folds if i != OUT_OF_SCOPE], outside)
    classifier = IntentClassifier(
        model=model,
        examples=examples,
        out_of_scope_threshold=threshold,
        cache_dir=cache,
        **settings,
    )
    classifier.warm_up()
    val = classifier.classify_batch([text for text, _ in splits["val"]])
    oos = classifier.classify_batch([text for text, _ in splits["oos_val"]])
    latencies = []
    for text, _ in splits["val"][:201]:
        started = time.perf_counter()
        classifier.run(text=text)
        latencies.append(time.perf_counter() - started)
    gold = [intent for _, intent in splits["val"]]
    # A rejected query's runner-up is its best intent: what it would get without a threshold.
    best = [r["runner_up"] if r["intent"] == OUT_OF_SCOPE else r["intent"] for r in val]
    return {
        "threshold": threshold,
        "in_scope_accuracy": sum(r["intent"] == g for r, g in zip(val, gold, strict=True))
        / len(val),
        "accuracy_without_rejection": sum(b == g for b, g in zip(best, gold, strict=True))
        / len(val),
        "oos_recall": sum(r["intent"] == OUT_OF_SCOPE for r in oos) / len(oos),
        "fit_s": tuning.fit_seconds,
        "ms_p50": 1000 * statistics.median(latencies[1:]),
    }


def banking77(data: Path, settings: dict, cache: str) -> dict:
    """Banking77 figures of one method: held-out accuracy and cross-validated accuracy."""
    from sklearn.model_selection import train_test_split

    with (data / "banking77" / "train.csv").open(newline="", encoding="utf-8") as file:
        rows = [(row["text"], row["category"]) for row in csv.DictReader(file)]
    examples, test = train_test_split(
        rows, test_size=0.2, stratify=[intent for _, intent in rows], random_state=0
    )
    classifier = IntentClassifier(
        model=embedding_model_path("all-MiniLM-L6-v2"),
        examples=examples,
        out_of_scope_threshold=None,
        cache_dir=cache,
        **settings,
    )
    classifier.warm_up()
    results = classifier.classify_batch([text for text, _ in test])
    folds = classifier.cross_validate()
    return {
        "accuracy": sum(r["intent"] == g for r, (_, g) in zip(results, test, strict=True))
        / len(test),
        "cv_accuracy": sum(r["intent"] == g for r, (_, g) in zip(folds, examples, strict=True))
        / len(examples),
    }


def measure(data: Path, cache: str, backend: str) -> dict:
    """The figures of every method, by data set, with the encoder of `backend`."""
    figures = {}
    progress("CLINC150 and Banking77 examples are embedded once each, about a minute apiece")
    for name, (method, with_oos) in METHODS.items():
        settings = {**method, "backend": backend}
        progress(f"{name}: CLINC150")
        figures[name] = {"clinc150": clinc(data, settings, with_oos, cache)}
        if with_oos:
            progress(f"{name}: Banking77")
            figures[name]["banking77"] = banking77(data, settings, cache)
    return figures


def report(figures: dict) -> None:
    """Print the table, the ratios to the baselines, the targets met, and one JSON line."""
    print(
        f"{'':26} {'CLINC150 val':>25} {'oos_val':>8} {'':9} {'Banking77':>19}\n"
        f"{'method':26} {'in-scope':>12} {'no reject':>12} {'recall':>8} {'threshold':>9} "
        f"{'held-out':>9} {'5-fold':>9} {'fit s':>6} {'ms/query':>8}"
    )
    for name, figure in figures.items():
        c, b = figure["clinc150"], figure.get("banking77")
        banking = f"{b['accuracy']:9.1%} {b['cv_accuracy']:9.1%}" if b else f"{'-':>9} {'-':>9}"
        print(
            f"{name:26} {c['in_scope_accuracy']:12.1%} {c['accuracy_without_rejection']:12.1%} "
            f"{c['oos_recall']:8.1%} {c['threshold']:9.3f} {banking} {c['fit_s']:6.2f} "
            f"{c['ms_p50']:8.1f}"
        )
    best = figures[DEFAULT]
    for baseline in BASELINES:
        other = figures[baseline]
        print(
            f"{DEFAULT} / {baseline}: CLINC in-scope errors x"
            f"{_error_ratio(best, other, 'clinc150', 'in_scope_accuracy'):.2f}, "
            f"missed OOS x{_error_ratio(best, other, 'clinc150', 'oos_recall'):.2f}, "
            f"Banking77 errors x{_error_ratio(best, other, 'banking77', 'accuracy'):.2f}, "
            f"time per query x{best['clinc150']['ms_p50'] / other['clinc150']['ms_p50']:.2f}"
        )
    met = {
        "clinc_in_scope": best["clinc150"]["in_scope_accuracy"] >= TARGETS["clinc_in_scope"],
        "clinc_oos_recall": best["clinc150"]["oos_recall"] >= TARGETS["clinc_oos_recall"],
        "banking77": best["banking77"]["accuracy"] >= TARGETS["banking77"],
        "ms": best["clinc150"]["ms_p50"] < TARGETS["ms"],
    }
    print(f"targets {TARGETS}: met {met}")
    print(json.dumps({"figures": figures, "targets": TARGETS, "met": met}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: .venv/bin/python bench/intents.py --cache /tmp/intent-cache",
    )
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--cache", help="folder that keeps embeddings and heads between runs")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument(
        "--backend",
        default=EmbeddingSettings().backend,
        help="the encoder: torch, onnx or onnx-int8 (default: docent's, embedding.backend)",
    )
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "clinc150").is_dir() or not (data / "banking77").is_dir():
        sys.exit(f"{data} holds no clinc150/ and banking77/; pass --data")
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    with tempfile.TemporaryDirectory(prefix="docent-bench-intents-") as scratch:
        report(measure(data, args.cache or scratch, args.backend))


def _error_ratio(best: dict, other: dict, data_set: str, key: str) -> float:
    """How many of the baseline's errors the best method still makes (below 1: fewer)."""
    return (1 - best[data_set][key]) / max(1 - other[data_set][key], 1e-9)


if __name__ == "__main__":
    main()
