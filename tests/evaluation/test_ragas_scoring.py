"""Ragas' non-LLM metrics through docent's scorer, offline."""

import pytest

from evaluation.ragas_scoring import ragas_scores

PASSAGE = "The espresso machine warranty lasts 27 months from the date of delivery."


def test_answer_and_context_metrics():
    scores = ragas_scores(
        question="How long is the warranty?",
        response="The warranty lasts 27 months.",
        reference="The warranty lasts 27 months.",
        retrieved_contexts=[PASSAGE, "Orders ship from Rotterdam."],
        reference_contexts=[PASSAGE],
    )
    assert scores["rouge_l"] == pytest.approx(1.0)
    assert scores["string_similarity"] == pytest.approx(1.0)
    assert scores["context_recall"] == pytest.approx(1.0)
    assert scores["context_precision"] == pytest.approx(1.0)
    missed = ragas_scores(
        question="How long is the warranty?",
        response="It ships from Rotterdam.",
        reference="27 months",
        retrieved_contexts=["Orders ship from Rotterdam."],
        reference_contexts=[PASSAGE],
    )
    assert missed["context_recall"] == 0.0 and missed["rouge_l"] < 0.3


def test_only_the_metrics_the_inputs_allow():
    assert (
        ragas_scores(
            question="q", response="r", reference=None, retrieved_contexts=[], reference_contexts=[]
        )
        == {}
    )
    nothing_retrieved = ragas_scores(
        question="q",
        response="",
        reference=None,
        retrieved_contexts=[],
        reference_contexts=[PASSAGE],
    )
    assert nothing_retrieved == {"context_recall": 0.0, "context_precision": 0.0}
