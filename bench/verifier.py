"""Calibrate SupportVerifier on FaithBench and measure how well it flags hallucinated summaries.

Each FaithBench sample is a source passage, a summary of it by one of ten LLMs, and span
annotations by several annotators. Label: a summary "has an unwanted hallucination" when at
least one annotation carries a label starting with "Unwanted" ("Unwanted", "Unwanted.Intrinsic",
"Unwanted.Extrinsic"); spans marked only "Questionable" or "Benign" (true, if unstated,
world knowledge) do not count. The source is the single document, the summary the answer.

The verifier runs once per sample; its per-sentence measurements (similarity, lexical share,
novel numbers and names) are then recombined, with the component's own functions, for every
point of a grid of `embedding_weight`, `novelty_penalty` and `softness`. Four families of
settings are compared: embedding only (weight 1), lexical only (weight 0, no penalty), lexical
+ novelty (weight 0), and the full combination. Each family is tuned in two ways:
- leave-one-batch-out cross-validation: settings chosen by AUROC on six batches, the threshold
  by balanced accuracy on the same six, both applied to the seventh. The 7 batches hold 5
  different source passages each, so nothing of a held-out passage is seen in tuning. AUROC
  is pooled over the out-of-fold scores ("batch mean": the mean of the seven held-out AUROCs);
  balanced accuracy is the mean over held-out batches, each at its fold's threshold;
- all data: settings and threshold tuned on all 350 samples and measured on them (optimistic).
The component's defaults are a last row: their settings were picked by hand from the all-data
figures (so their AUROC is in-sample), their threshold is the all-data best, and their
cross-validated balanced accuracy re-tunes the threshold alone per fold.
AUROC is of the hallucination label against 1 - score. For scale, the verdicts of the
detectors that FaithBench ships in its metadata are scored on the same samples.

Usage:
    OMP_NUM_THREADS=1 .venv/bin/python bench/verifier.py [--data FOLDER] [--candidates N]
        [--backend onnx-int8]
(default FOLDER: ../shared/data/faithbench; `--candidates 0` compares each summary sentence
with every source sentence by embedding, the verifier's default only with the few sharing
the most terms)
"""

import argparse
import itertools
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
from haystack import Document
from scipy.stats import rankdata

import components  # noqa: F401  (offline defaults)
from components.shipped_models import embedding_model_path
from components.verification.support_verifier import SupportVerifier, sentence_support, soft_min
from ingest.config import EmbeddingSettings

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
PENALTIES = (0.0, 0.1, 0.2, 0.3, 0.5)
SOFTNESS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5)
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
FAMILIES = {
    "embedding only": [(1.0, 0.0, t) for t in SOFTNESS],
    "lexical only": [(0.0, 0.0, t) for t in SOFTNESS],
    "lexical + novelty": [(0.0, p, t) for p in PENALTIES for t in SOFTNESS],
    "combined": list(itertools.product(WEIGHTS, PENALTIES, SOFTNESS)),
}
# Verdicts shipped in FaithBench's metadata: higher means consistent.
REFERENCES = ("hhem-2.1", "hhemv1", "trueteacher", "true_nli", "gpt-4-turbo", "gpt_4o")


def load(folder: Path) -> list[dict]:
    """The samples of every batch, each with its batch number and hallucination label."""
    samples = []
    for path in sorted(folder.glob("batch_*.json"), key=lambda p: int(re.sub(r"\D", "", p.name))):
        batch = int(re.sub(r"\D", "", path.name))
        for sample in json.loads(path.read_text(encoding="utf-8"))["samples"]:
            labels = [label for a in sample["annotations"] for label in a["label"]]
            sample["batch"] = batch
            sample["hallucinated"] = any(label.startswith("Unwanted") for label in labels)
            samples.append(sample)
    return samples


def verify_all(samples: list[dict], verifier: SupportVerifier) -> tuple[list[list[dict]], list]:
    """The verifier's sentence details for each sample, and its seconds per sample."""
    details, seconds = [], []
    started = time.perf_counter()
    for done, sample in enumerate(samples, 1):
        tic = time.perf_counter()
        result = verifier.run(
            answer=sample["summary"], documents=[Document(content=sample["source"])]
        )
        seconds.append(time.perf_counter() - tic)
        details.append(result["sentences"])
        if done % 50 == 0 or done == len(samples):
            rate = done / (time.perf_counter() - started)
            print(
                f"  verified {done}/{len(samples)} samples, {rate:.1f}/s, "
                f"ETA {(len(samples) - done) / rate:.0f} s",
                file=sys.stderr,
            )
    return details, seconds


def scores(details: list[list[dict]], weight: float, penalty: float, softness: float) -> np.ndarray:
    """The answer scores of all samples under one setting of the parameters."""
    return np.array(
        [
            soft_min(
                [
                    sentence_support(
                        s["similarity"],
                        s["lexical"],
                        len(s["novel"]),
                        embedding_weight=weight,
                        novelty_penalty=penalty,
                    )
                    for s in sentences
                ],
                softness,
            )
            if sentences
            else 0.0
            for sentences in details
        ]
    )


def auroc(risk: np.ndarray, labels: np.ndarray) -> float:
    """The probability that a hallucinated sample has a higher risk than a faithful one."""
    ranks = rankdata(risk)
    positives = int(labels.sum())
    negatives = len(labels) - positives
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def balanced_accuracy(score: np.ndarray, labels: np.ndarray, threshold: float) -> float:
    """Mean recall of both classes when a score below `threshold` flags a hallucination."""
    flagged = score < threshold
    return float((flagged[labels].mean() + (~flagged[~labels]).mean()) / 2)


def best_threshold(score: np.ndarray, labels: np.ndarray) -> float:
    """The threshold, midway between observed scores, of the best balanced accuracy."""
    values = np.unique(score)
    candidates = np.concatenate([[values[0]], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    return float(max(candidates, key=lambda t: balanced_accuracy(score, labels, t)))


def tune(grid: dict, labels: np.ndarray, rows: np.ndarray) -> tuple[tuple, float]:
    """The parameters of the best AUROC on `rows`, then the best threshold for them."""
    params = max(grid, key=lambda p: auroc(1 - grid[p][rows], labels[rows]))
    return params, best_threshold(grid[params][rows], labels[rows])


def evaluate(grid: dict, labels: np.ndarray, batches: np.ndarray) -> dict:
    """Leave-one-batch-out and all-data figures of one family of parameter settings."""
    out_of_fold = np.zeros(len(labels))
    fold_auroc, fold_accuracy = [], []
    for batch in np.unique(batches):
        held_out = batches == batch
        params, threshold = tune(grid, labels, ~held_out)
        out_of_fold[held_out] = grid[params][held_out]
        fold_auroc.append(auroc(1 - grid[params][held_out], labels[held_out]))
        fold_accuracy.append(balanced_accuracy(grid[params][held_out], labels[held_out], threshold))
    params, threshold = tune(grid, labels, np.ones(len(labels), bool))
    return {
        "cv_auroc": auroc(1 - out_of_fold, labels),
        "cv_auroc_batch_mean": float(np.mean(fold_auroc)),
        "cv_balanced_accuracy": float(np.mean(fold_accuracy)),
        "all_auroc": auroc(1 - grid[params], labels),
        "all_balanced_accuracy": balanced_accuracy(grid[params], labels, threshold),
        "all_params": params,
        "all_threshold": round(threshold, 3),
        "out_of_fold": out_of_fold,
    }


def evaluate_fixed(score: np.ndarray, labels: np.ndarray, batches: np.ndarray, threshold: float):
    """Figures of fixed parameters: the threshold alone is tuned, per fold and on all data."""
    fold_auroc, fold_accuracy = [], []
    for batch in np.unique(batches):
        held_out = batches == batch
        fold_threshold = best_threshold(score[~held_out], labels[~held_out])
        fold_auroc.append(auroc(1 - score[held_out], labels[held_out]))
        fold_accuracy.append(balanced_accuracy(score[held_out], labels[held_out], fold_threshold))
    return {
        "cv_auroc_batch_mean": float(np.mean(fold_auroc)),
        "cv_balanced_accuracy": float(np.mean(fold_accuracy)),
        "all_auroc": auroc(1 - score, labels),
        "all_balanced_accuracy": balanced_accuracy(score, labels, threshold),
        "best_threshold": round(best_threshold(score, labels), 3),
        "flagged": float((score < threshold).mean()),
    }


def difference(a: np.ndarray, b: np.ndarray, labels: np.ndarray) -> list[float]:
    """AUROC(a) - AUROC(b) and its 95 % paired bootstrap interval (scores: higher faithful)."""
    rng = np.random.default_rng(0)
    differences = []
    for _ in range(1000):
        rows = rng.integers(0, len(labels), len(labels))
        differences.append(auroc(1 - a[rows], labels[rows]) - auroc(1 - b[rows], labels[rows]))
    low, high = np.percentile(differences, [2.5, 97.5])
    return [auroc(1 - a, labels) - auroc(1 - b, labels), float(low), float(high)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared/data/faithbench"))
    parser.add_argument(
        "--candidates",
        type=int,
        default=None,
        help="document sentences compared by embedding per answer sentence (0: all; default: "
        "the verifier's)",
    )
    parser.add_argument(
        "--backend",
        default=EmbeddingSettings().backend,
        help="the encoder: torch, onnx or onnx-int8 (default: docent's, embedding.backend)",
    )
    args = parser.parse_args()
    folder = Path(args.data)
    if not any(folder.glob("batch_*.json")):
        sys.exit(f"no batch_*.json in {folder}; pass the FaithBench folder with --data")
    samples = load(folder)
    options = {"backend": args.backend}
    if args.candidates is not None:
        options["candidates"] = args.candidates
    verifier = SupportVerifier(model=embedding_model_path("all-MiniLM-L6-v2"), **options)
    verifier.warm_up()
    details, seconds = verify_all(samples, verifier)
    report(samples, details, seconds, verifier)


def report(samples: list[dict], details: list, seconds: list, verifier: SupportVerifier) -> None:
    """Tune and measure every family and the defaults; print a table and one JSON line."""
    labels = np.array([s["hallucinated"] for s in samples])
    batches = np.array([s["batch"] for s in samples])
    grid = {p: scores(details, *p) for p in FAMILIES["combined"]}
    results = {
        name: evaluate({p: grid[p] for p in settings}, labels, batches)
        for name, settings in FAMILIES.items()
    }
    defaults = (verifier.embedding_weight, verifier.novelty_penalty, verifier.softness)
    fixed = evaluate_fixed(grid[defaults], labels, batches, verifier.threshold)
    comparisons = {
        "CV: combined - lexical only": difference(
            results["combined"]["out_of_fold"], results["lexical only"]["out_of_fold"], labels
        ),
        "CV: combined - embedding only": difference(
            results["combined"]["out_of_fold"], results["embedding only"]["out_of_fold"], labels
        ),
        "all data: defaults - lexical only": difference(
            grid[defaults], grid[results["lexical only"]["all_params"]], labels
        ),
        "all data: defaults - embedding only": difference(
            grid[defaults], grid[results["embedding only"]["all_params"]], labels
        ),
    }

    print(
        f"FaithBench: {len(samples)} samples in {len(np.unique(batches))} batches, "
        f"{labels.sum()} with an unwanted hallucination ({labels.mean():.0%})\n"
    )
    print(
        f"{'':<18} {'leave-one-batch-out':^34}  {'all data (tuned on all data)':^46}\n"
        f"{'family':<18} {'AUROC':>8} {'batch mean':>11} {'bal.acc':>9}   {'AUROC':>7} "
        f"{'bal.acc':>8}  (weight, penalty, softness) threshold"
    )
    for name, r in results.items():
        print(
            f"{name:<18} {r['cv_auroc']:>8.3f} {r['cv_auroc_batch_mean']:>11.3f} "
            f"{r['cv_balanced_accuracy']:>9.3f}   {r['all_auroc']:>7.3f} "
            f"{r['all_balanced_accuracy']:>8.3f}  {r['all_params']} {r['all_threshold']}"
        )
    print(
        f"{'defaults (fixed)':<18} {'':>8} {fixed['cv_auroc_batch_mean']:>11.3f} "
        f"{fixed['cv_balanced_accuracy']:>9.3f}   {fixed['all_auroc']:>7.3f} "
        f"{fixed['all_balanced_accuracy']:>8.3f}  {defaults} {verifier.threshold}"
    )
    print(
        f"\ndefaults: the best threshold on all data is {fixed['best_threshold']}; at "
        f"{verifier.threshold} they flag {fixed['flagged']:.0%} of the summaries"
    )
    by_threshold = {t: balanced_accuracy(grid[defaults], labels, t) for t in THRESHOLDS}
    print(
        "defaults' balanced accuracy by threshold (share flagged): "
        + ", ".join(
            f"{t} {a:.3f} ({(grid[defaults] < t).mean():.0%})" for t, a in by_threshold.items()
        )
    )
    for name, (value, low, high) in comparisons.items():
        print(f"AUROC {name}: {value:+.3f} (95 % bootstrap {low:+.3f} to {high:+.3f})")
    references = {}
    for key in REFERENCES:
        verdict = np.array([float(s["metadata"][key]) for s in samples])
        references[key] = {
            "auroc": auroc(1 - verdict, labels),
            "balanced_accuracy": balanced_accuracy(verdict, labels, 0.5),
        }
    print(
        "FaithBench's own detector verdicts, same samples (AUROC / balanced accuracy at 0.5): "
        + ", ".join(
            f"{k} {v['auroc']:.3f}/{v['balanced_accuracy']:.3f}" for k, v in references.items()
        )
    )
    latency = np.percentile(seconds, [50, 95]) * 1000
    print(
        f"verifier: {len(samples)} samples in {sum(seconds):.0f} s, p50 {latency[0]:.0f} ms, "
        f"p95 {latency[1]:.0f} ms per sample (one source passage, a whole summary)"
    )
    for r in results.values():
        del r["out_of_fold"]
    print(
        json.dumps(
            {
                "samples": len(samples),
                "hallucinated": int(labels.sum()),
                "families": results,
                "defaults": {
                    "params": defaults,
                    "threshold": verifier.threshold,
                    **fixed,
                    "balanced_accuracy_by_threshold": by_threshold,
                },
                "auroc_differences": comparisons,
                "references": references,
                "latency_ms": {"p50": latency[0], "p95": latency[1]},
            }
        )
    )


if __name__ == "__main__":
    main()
