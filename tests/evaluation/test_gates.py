"""The check, before any question runs, that a set can score every gate asked of it."""

import pytest

from components.errors import ConfigError
from evaluation.config import EvaluationSettings
from evaluation.datasets import EvalItem
from evaluation.gates import check_gates, scorable_metrics

REFERENCED = [EvalItem("1", "How long is the warranty?", references=("27 months",))]


def gates(**thresholds: float) -> EvaluationSettings:
    return EvaluationSettings(thresholds=thresholds)


def test_an_answer_set_scores_what_its_items_have_the_keys_for():
    assert scorable_metrics("jsonl", REFERENCED) == (
        "exact_match",
        "token_f1",
        "answered",
        "rouge_l",
        "string_similarity",
        "semantic_similarity",
    )
    full = [
        EvalItem("1", "q", references=("a",), reference_ids=("a.md",), answers=("a",)),
        EvalItem("2", "q", reference_contexts=("passage",), unanswerable=True),
    ]
    assert "faithfulness" not in scorable_metrics("jsonl", full)
    judged = EvaluationSettings(judge_model="gemma-3-270m")
    assert set(scorable_metrics("jsonl", full, judged)) == {
        "answer_correct",
        "wrong",
        "abstained_correctly",
        "exact_match",
        "token_f1",
        "retrieval_hit",
        "answered",
        "rouge_l",
        "string_similarity",
        "semantic_similarity",
        "context_recall",
        "context_precision",
        "faithfulness",
        "response_relevancy",
        "llm_context_precision",
        "llm_context_recall",
    }
    assert scorable_metrics("intents", [("hi", "greeting")]) == (
        "intent_accuracy",
        "in_scope_accuracy",
    )
    assert scorable_metrics("beir", None) == ("ndcg@10", "recall@100", "mrr@10")


@pytest.mark.parametrize(
    ("fmt", "entries", "gate", "expected"),
    [
        ("jsonl", REFERENCED, "retrieval_hit", 'no item has "reference_ids"'),
        ("jsonl", REFERENCED, "answer_correct", 'no item has "answers"'),
        ("jsonl", REFERENCED, "faithfulness", "set evaluation.judge_model"),
        ("squad", REFERENCED, "answer_correct", "SQuAD does not have"),
        ("jsonl", REFERENCED, "ndcg@10", "scored only on a BEIR retrieval set"),
        ("intents", [("hi", "greeting")], "token_f1", "and this is an intent set"),
        ("intents", [("hi", "greeting")], "out_of_scope_recall", "no item is labelled out of"),
        ("beir", None, "recall@10", "not a metric docent scores"),
    ],
)
def test_a_gate_the_set_cannot_score_is_named_with_what_to_do(fmt, entries, gate, expected):
    with pytest.raises(ConfigError) as error:
        check_gates(fmt, entries, gates(**{gate: 0.5}), "golden.jsonl")
    message = str(error.value)
    assert f"golden.jsonl ({fmt}) cannot score {gate}," in message
    assert expected in message and "Remove the other gates" in message


def test_gates_the_set_can_score_pass_the_check():
    check_gates("jsonl", REFERENCED, gates(token_f1=0.5, answered=0.9))
    check_gates("intents", [("hi", "greeting"), ("x", "oos")], gates(out_of_scope_recall=0.5))
