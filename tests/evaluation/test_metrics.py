"""Metrics against hand-computed values, bootstrap intervals and gates."""

import math

import pytest

from evaluation.gates import regression_gate, threshold_gate
from evaluation.metrics import (
    answer_correct,
    bootstrap_difference,
    bootstrap_mean,
    exact_match,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    token_f1,
)


def test_ndcg_recall_and_mrr_by_hand():
    relevance = {"a": 1, "b": 2}
    # b at rank 1 (gain 2), a at rank 3 (gain 1 / log2(4) = 0.5); ideal: 2 + 1/log2(3).
    assert ndcg_at_k(["b", "x", "a"], relevance) == pytest.approx(2.5 / (2 + 1 / math.log2(3)))
    assert ndcg_at_k(["b", "a"], relevance) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "y"], relevance) == 0.0
    assert ndcg_at_k(["a", "b"], relevance, k=1) == pytest.approx(1 / 2)
    assert recall_at_k(["x", "a"], relevance, k=2) == 0.5
    assert reciprocal_rank(["x", "y", "a"], relevance) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"], relevance) == 0.0


def test_squad_exact_match_and_f1():
    assert exact_match("The Eiffel Tower!", ["eiffel tower"]) == 1.0
    assert exact_match("Eiffel", ["eiffel tower"]) == 0.0
    # 1 common token: precision 1/1, recall 1/2 -> F1 2/3; the best reference counts.
    assert token_f1("Eiffel", ["eiffel tower", "paris"]) == pytest.approx(2 / 3)
    assert token_f1("in Paris, France", ["Paris"]) == pytest.approx(0.5)
    assert token_f1("London", ["Paris"]) == 0.0


def test_bootstrap_interval_covers_the_mean_and_narrows_with_more_data():
    small = bootstrap_mean([0, 1] * 10)
    large = bootstrap_mean([0, 1] * 500)
    assert small.low < 0.5 < small.high and large.low < 0.5 < large.high
    assert (large.high - large.low) < (small.high - small.low) / 4
    assert bootstrap_mean([0.3] * 5).to_dict() == {"mean": 0.3, "low": 0.3, "high": 0.3, "n": 5}
    with pytest.raises(ValueError, match="not finite"):
        bootstrap_mean([0.5, float("nan")])
    with pytest.raises(ValueError, match="same evaluation set"):
        bootstrap_difference([1, 2], [1])


def test_a_wordy_wrong_answer_scores_on_f1_but_is_not_correct():
    key = ["27 months"]
    reference = ["The espresso machine warranty lasts 27 months from the date of delivery."]
    wrong = "The espresso machine warranty lasts 12 months from the date of delivery."
    assert token_f1(wrong, reference) > 0.8
    assert answer_correct(wrong, key) == 0.0
    right = "It is covered for 27 Months, counted from delivery [1]."
    assert answer_correct(right, key) == 1.0
    assert answer_correct("It lasts 127 months.", key) == 0.0  # whole words only
    assert answer_correct("No.", ["yes", "no"]) == 1.0
    assert answer_correct("anything", ["", "   "]) == 0.0


def test_gates_on_a_metric_where_less_is_better():
    many_wrong = threshold_gate("wrong", [0, 1, 1, 0] * 30, threshold=0.05, lower_is_better=True)
    assert not many_wrong.passed and "above the maximum 0.05" in many_wrong.reason
    assert threshold_gate("wrong", [0.0] * 40, threshold=0.05, lower_is_better=True).passed
    baseline = [0.0, 1.0, 0.0, 0.0] * 25
    more = [1.0, 1.0, 0.0, 0.0] * 25
    rise = regression_gate("wrong", more, baseline, lower_is_better=True)
    assert not rise.passed and "significant rise" in rise.reason
    assert regression_gate("wrong", baseline, more, lower_is_better=True).passed


def test_threshold_gate_fails_only_when_the_interval_is_below():
    sure_miss = threshold_gate("f1", [0.2, 0.3, 0.25] * 30, threshold=0.5)
    assert (
        not sure_miss.passed and "whole interval lies below the threshold 0.5" in sure_miss.reason
    )
    # Mean 0.45 on 6 noisy items: the interval reaches 0.5, so chance is not a failure.
    noisy = threshold_gate("f1", [0, 1, 0, 1, 0.7, 0], threshold=0.5)
    assert noisy.passed and noisy.interval.mean < 0.5
    assert threshold_gate("f1", [0.9] * 10, threshold=0.5).passed


def test_regression_gate_needs_a_significant_paired_drop():
    baseline = [0.8, 0.6, 0.9, 0.7] * 25
    worse = [s - 0.1 for s in baseline]
    result = regression_gate("f1", worse, baseline)
    assert not result.passed and "significant drop" in result.reason
    assert result.interval.mean == pytest.approx(-0.1)
    same = regression_gate("f1", list(baseline), baseline)
    assert same.passed
    assert regression_gate("f1", worse, baseline, max_drop=0.15).passed
