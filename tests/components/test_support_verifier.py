"""SupportVerifier with the shipped MiniLM: supported answers, invented facts, edge cases."""

import pytest
from haystack import Document

from components.shipped_models import embedding_model_path
from components.verification.support_verifier import SupportVerifier, soft_min
from tests.components.helpers import round_trip

DOCUMENTS = [
    Document(
        content="Breakfast is served until 10:00. The cafeteria on the second floor is open "
        "from 8:00 to 16:00 on weekdays."
    ),
    Document(
        content="Hotel rooms may cost at most 160 euros per night. Travel must be booked "
        "through the Acme travel portal."
    ),
]
FAITHFUL = (
    "A hotel room costs at most 160 euros per night [1]. Breakfast is served until 10:00 [2]."
)


@pytest.fixture(scope="module")
def verifier():
    verifier = SupportVerifier(model=embedding_model_path("all-MiniLM-L6-v2"))
    verifier.warm_up()
    return verifier


def test_a_faithful_answer_is_supported_sentence_by_sentence(verifier):
    result = verifier.run(answer=FAITHFUL, documents=DOCUMENTS)
    assert result["supported"] is True and result["unsupported"] == []
    assert result["score"] >= verifier.threshold
    first, second = result["sentences"]
    assert first["sentence"] == "A hotel room costs at most 160 euros per night."
    assert (first["document"], second["document"]) == (1, 0)
    assert first["lexical"] == 1.0 and first["novel"] == [] and first["similarity"] > 0.8
    # The answer is as strong as its weakest sentence.
    assert result["score"] == min(first["score"], second["score"])
    # Indices point into the documents as given, empty ones included.
    shifted = verifier.run(answer=FAITHFUL, documents=[Document(content=None), *DOCUMENTS])
    assert [s["document"] for s in shifted["sentences"]] == [2, 1]


@pytest.mark.parametrize(
    ("sentence", "novel"),
    [
        ("A hotel room costs at most 250 euros per night.", ["250"]),
        ("Travel must be booked through the Globex travel portal.", ["Globex"]),
    ],
)
def test_an_invented_number_or_name_is_unsupported(verifier, sentence, novel):
    result = verifier.run(
        answer=f"Breakfast is served until 10:00 [1]. {sentence}", documents=DOCUMENTS
    )
    assert result["supported"] is False and result["score"] < verifier.threshold
    assert result["unsupported"] == [sentence]
    assert result["sentences"][1]["novel"] == novel
    assert result["sentences"][0]["score"] >= verifier.threshold


def test_an_unrelated_answer_scores_low(verifier):
    result = verifier.run(answer="Paris is the capital of France.", documents=DOCUMENTS)
    assert result["score"] < 0.3 and result["unsupported"] == ["Paris is the capital of France."]


def test_citation_markers_list_markers_and_lead_ins_are_ignored(verifier):
    plain = verifier.run(
        answer=FAITHFUL.replace(" [1]", "").replace(" [2]", ""), documents=DOCUMENTS
    )
    marked = verifier.run(answer=FAITHFUL.replace("[1]", "[1, 2]"), documents=DOCUMENTS)
    listed = verifier.run(
        answer="The rules are:\n1. A hotel room costs at most 160 euros per night.\n"
        "2. Breakfast is served until 10:00 [2].",
        documents=DOCUMENTS,
    )
    assert plain["sentences"] == marked["sentences"] == listed["sentences"]
    assert plain["score"] == marked["score"] == listed["score"]


@pytest.mark.parametrize(
    ("answer", "documents"),
    [("", DOCUMENTS), ("  \n ", DOCUMENTS), (FAITHFUL, []), (FAITHFUL, [Document(content=" ")])],
)
def test_no_answer_or_no_documents_scores_zero(verifier, answer, documents):
    result = verifier.run(answer=answer, documents=documents)
    assert result["score"] == 0.0 and result["supported"] is False
    assert result["sentences"] == []


def test_soft_min_runs_from_the_minimum_towards_the_mean():
    assert soft_min([0.2, 1.0], 0.0) == 0.2
    assert 0.2 < soft_min([0.2, 1.0], 0.1) < soft_min([0.2, 1.0], 10.0) < 0.6
    assert soft_min([0.5, 0.5], 0.05) == pytest.approx(0.5)


def test_round_trip_keeps_every_setting():
    verifier = SupportVerifier(
        model="/models/minilm",
        language="german",
        threshold=0.7,
        embedding_weight=0.3,
        novelty_penalty=0.1,
        softness=0.05,
        batch_size=8,
        backend="onnx-int8",
        candidates=6,
    )
    restored, data = round_trip(verifier)
    assert data["init_parameters"] == {
        "model": "/models/minilm",
        "language": "german",
        "threshold": 0.7,
        "embedding_weight": 0.3,
        "novelty_penalty": 0.1,
        "softness": 0.05,
        "batch_size": 8,
        "backend": "onnx-int8",
        "candidates": 6,
    }
    assert vars(restored).keys() == vars(verifier).keys()
    assert restored.softness == 0.05 and restored.language == "german"


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("language", "klingon"),
        ("threshold", 1.5),
        ("embedding_weight", -0.1),
        ("novelty_penalty", 2.0),
        ("softness", -1.0),
        ("batch_size", 0),
    ],
)
def test_arguments_are_checked_at_once(argument, value):
    with pytest.raises(ValueError, match=argument if argument != "language" else "klingon"):
        SupportVerifier(model="m", **{argument: value})


def test_a_sentence_that_only_restates_the_question_answers_nothing(verifier):
    documents = [Document(content="Raise HTTPException to return an HTTP error to the client.")]
    query = "Which class do you raise to return an HTTP error?"
    echo = verifier.run(
        answer="The class you raise to return an HTTP error is the class you raise.",
        documents=documents,
        query=query,
    )
    assert echo["score"] == 0.0 and echo["sentences"][0]["restates_question"]
    real = verifier.run(answer="Raise HTTPException [1].", documents=documents, query=query)
    assert real["supported"] and not real["sentences"][0]["restates_question"]


def test_a_number_word_the_question_lacks_is_an_answer(verifier):
    documents = [Document(content="Employees may work remotely up to three days per week.")]
    result = verifier.run(
        answer="Employees may work remotely up to three days per week.",
        documents=documents,
        query="How many days per week can employees work remotely?",
    )
    assert result["supported"] and not result["sentences"][0]["restates_question"]


POLICY = [
    Document(
        content="SMS codes are not supported. Use an authenticator app for the second factor. "
        "Full-time employees receive 28 days of paid annual leave; up to 10 of them may be "
        "carried over. The on_event decorator is deprecated: use the lifespan parameter."
    )
]


def test_a_yes_the_documents_contradict_scores_zero(verifier):
    result = verifier.run(
        answer="Yes, SMS codes are supported [1].",
        documents=POLICY,
        query="Are SMS codes supported?",
    )
    assert result["supported"] is False and result["score"] == 0.0
    assert result["sentences"][0]["contradicts"][0].startswith("yes (the documents say no")
    agreeing = verifier.run(
        answer="No, SMS codes are not supported [1].",
        documents=POLICY,
        query="Are SMS codes supported?",
    )
    assert agreeing["sentences"][0]["contradicts"] == []


def test_a_number_with_a_unit_the_documents_never_write_is_novel(verifier):
    # "10" is in the documents, but not as a number of days.
    result = verifier.run(
        answer="Employees receive 10 days of paid annual leave.", documents=POLICY
    )
    assert result["sentences"][0]["novel"] == ["10 day"]
    right = verifier.run(answer="Employees receive 28 days of paid annual leave.", documents=POLICY)
    assert right["sentences"][0]["novel"] == [] and right["score"] > result["score"]


def test_a_made_up_or_deprecated_identifier_lowers_the_score(verifier):
    invented = verifier.run(answer="Use the startup_hook parameter.", documents=POLICY)
    assert "startup_hook" in invented["sentences"][0]["novel"]
    outdated = verifier.run(answer="Use the on_event decorator.", documents=POLICY)
    assert outdated["sentences"][0]["contradicts"] == ["on_event (outdated)"]
    assert outdated["score"] == 0.0
