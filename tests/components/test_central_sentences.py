"""CentralSentences with the shipped MiniLM: a summary of the document's own sentences."""

import pytest
from haystack import Document

from components.generation.central_sentences import CentralSentences
from components.shipped_models import embedding_model_path
from tests.components.helpers import round_trip

CHUNKS = [
    Document(
        content="Leave Policy\nFull-time employees receive 28 days of paid annual leave per year. "
        "Annual leave must be requested in the HR portal two weeks ahead.",
        meta={"section": "Leave Policy", "page": 1},
    ),
    Document(
        content="Unused annual leave days may be carried over until the end of March. "
        "The cafeteria serves vegetarian lunch on Fridays.",
        meta={"section": "Leave Policy > Carry-over", "page": 2},
    ),
]


@pytest.fixture(scope="module")
def summariser():
    summariser = CentralSentences(model=embedding_model_path("all-MiniLM-L6-v2"), count=2)
    summariser.warm_up()
    return summariser


def test_the_most_central_sentences_come_in_order_with_their_pages(summariser):
    result = summariser.run(documents=CHUNKS)
    texts = [s["text"] for s in result["sentences"]]
    assert len(texts) == 2 and "cafeteria" not in " ".join(texts), "the off-topic one is left"
    everything = " ".join(d.content for d in CHUNKS)
    assert [everything.index(t) for t in texts] == sorted(everything.index(t) for t in texts)
    first = result["sentences"][0]
    assert result["summary"].startswith(f"{first['text']} (p. {first['page']})")


def test_a_document_without_sentences_has_an_empty_summary(summariser):
    assert summariser.run(documents=[Document(content="Title only")]) == {
        "summary": "",
        "sentences": [],
    }


def test_round_trip_and_checked_arguments():
    copy, _ = round_trip(CentralSentences(model="m", count=4))
    assert copy.count == 4
    with pytest.raises(ValueError):
        CentralSentences(model="m", count=0)
    with pytest.raises(ValueError):
        CentralSentences(model="m", max_similarity=0)
