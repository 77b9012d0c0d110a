"""Ragas' non-LLM metrics through docent's scorer, offline."""

import pytest

from evaluation.ragas_scoring import RagasJudge, bounded_schema, ragas_scores

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


def test_semantic_similarity_with_the_local_model():
    from components.embedding.backends import sentence_encoder
    from components.shipped_models import embedding_model_path
    from evaluation.ragas_scoring import LocalEmbedding

    embedding = LocalEmbedding(sentence_encoder(embedding_model_path("all-MiniLM-L6-v2")))

    def similarity(response):
        return ragas_scores(
            question="How long is the warranty?",
            response=response,
            reference="The warranty lasts 27 months.",
            retrieved_contexts=[],
            reference_contexts=[],
            embedding=embedding,
        )["semantic_similarity"]

    same, paraphrase, other = (
        similarity("The warranty lasts 27 months."),
        similarity("You are covered for twenty-seven months."),
        similarity("Orders ship from Rotterdam."),
    )
    assert same == pytest.approx(1.0, abs=1e-4) and other < paraphrase < same
    assert similarity("") == 0.0


def test_judge_schemas_are_bounded_so_a_reply_always_closes():
    from ragas.metrics.collections.faithfulness.util import NLIStatementOutput

    schema = bounded_schema(NLIStatementOutput.model_json_schema(), max_chars=50, max_items=3)
    statement = schema["$defs"]["StatementFaithfulnessAnswer"]["properties"]
    assert statement["statement"]["maxLength"] == 50 and statement["reason"]["maxLength"] == 50
    assert statement["verdict"]["enum"] == [0, 1]
    assert schema["properties"]["statements"]["maxItems"] == 3
    assert schema["properties"]["statements"]["minItems"] == 1
    assert bounded_schema({"type": "string", "maxLength": 9}) == {"type": "string", "maxLength": 9}
    assert bounded_schema({"type": "string", "enum": ["a"]}) == {"type": "string", "enum": ["a"]}


def test_the_judge_hands_the_schema_over_and_validates_the_reply():
    from ragas.metrics.collections.faithfulness.util import StatementGeneratorOutput

    seen = []

    def complete(prompt, schema):
        seen.append(schema)
        return {"statements": ["The warranty lasts 27 months."]}

    judge = RagasJudge(complete, max_new_tokens=256)
    reply = judge.generate("Break the answer into statements.", StatementGeneratorOutput)
    assert reply.statements == ["The warranty lasts 27 months."] and judge.calls == 1
    # 2 items of up to two 56-character strings: even at a token a character, 256 tokens hold it.
    statements = seen[0]["properties"]["statements"]
    assert (statements["maxItems"], statements["items"]["maxLength"]) == (2, 56)
