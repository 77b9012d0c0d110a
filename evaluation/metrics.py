"""Metrics that need no model: retrieval (nDCG@k, recall@k, MRR) and answers (exact match,
token F1, SQuAD-normalised), and bootstrap confidence intervals of their means."""

import math
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def ndcg_at_k(ranked: Sequence[str], relevance: dict[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain of a ranking, with graded relevance (BEIR's
    definition: gain = grade, discount = log2(rank + 1))."""
    dcg = sum(relevance.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted(relevance.values(), reverse=True)[:k]
    idcg = sum(grade / math.log2(rank + 2) for rank, grade in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], relevance: dict[str, int], k: int = 100) -> float:
    """The share of relevant documents (grade > 0) found in the top k."""
    relevant = {doc for doc, grade in relevance.items() if grade > 0}
    if not relevant:
        return 0.0
    return len(relevant & set(ranked[:k])) / len(relevant)


def reciprocal_rank(ranked: Sequence[str], relevance: dict[str, int], k: int = 10) -> float:
    """1 / the rank of the first relevant document in the top k, else 0 (averaged: MRR)."""
    for rank, doc in enumerate(ranked[:k], start=1):
        if relevance.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION))
    return " ".join(text.split())


def exact_match(prediction: str, references: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised reference."""
    norm = normalize_answer(prediction)
    return float(any(norm == normalize_answer(r) for r in references))


def answer_correct(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when a normalised key answer appears in the normalised prediction as whole words
    ("27 months" in "The warranty lasts 27 months [1]."). Unlike token F1, a wordy answer
    that misses the key earns nothing, and one that holds it loses nothing for its words."""
    padded = f" {normalize_answer(prediction)} "
    return float(
        any(f" {key} " in padded for key in (normalize_answer(answer) for answer in answers) if key)
    )


def token_f1(prediction: str, references: Sequence[str]) -> float:
    """The best token-overlap F1 against the references (SQuAD's definition)."""
    best = 0.0
    predicted = normalize_answer(prediction).split()
    for reference in references:
        expected = normalize_answer(reference).split()
        common = sum((Counter(predicted) & Counter(expected)).values())
        if common == 0:
            continue
        precision, recall = common / len(predicted), common / len(expected)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


@dataclass(frozen=True)
class Interval:
    """A mean with its bootstrap confidence interval."""

    mean: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict[str, float]:
        """JSON-ready, rounded to four places."""
        return {
            "mean": round(self.mean, 4),
            "low": round(self.low, 4),
            "high": round(self.high, 4),
            "n": self.n,
        }


def bootstrap_mean(
    scores: Sequence[float], *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> Interval:
    """The mean of `scores` with a percentile bootstrap interval (seeded: reproducible).

    Raises:
        ValueError: no scores, or a score that is not a finite number (a NaN from a judge is
            an error to report, not a value to average away).
    """
    values = np.asarray(scores, dtype=float)
    if values.size == 0:
        raise ValueError("no scores to summarise")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{int(np.sum(~np.isfinite(values)))} scores are not finite numbers")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return Interval(float(values.mean()), float(low), float(high), int(values.size))


def bootstrap_difference(
    current: Sequence[float],
    baseline: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """The mean paired difference `current - baseline` (same items, same order) with a
    percentile bootstrap interval; an interval below zero is a significant regression.

    Raises:
        ValueError: the two runs do not score the same number of items.
    """
    if len(current) != len(baseline):
        raise ValueError(
            f"the runs scored different items ({len(current)} against {len(baseline)}); "
            "compare runs over the same evaluation set"
        )
    differences = np.asarray(current, dtype=float) - np.asarray(baseline, dtype=float)
    return bootstrap_mean(differences, confidence=confidence, resamples=resamples, seed=seed)
