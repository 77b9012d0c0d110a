"""RelevanceFilter: absolute floor and gap to the best document."""

import pytest
from haystack import Document

from components.retrieval.relevance_filter import RelevanceFilter
from tests.components.helpers import round_trip


def doc(name, vector):
    return Document(id=name, content=name, embedding=vector)


DOCS = [
    doc("same", [1.0, 0.0]),
    doc("close", [0.9, 0.1]),
    doc("side", [0.5, 0.5]),
    doc("away", [0.0, 1.0]),
]


def test_floor_drops_unrelated_documents_and_keeps_order():
    kept = RelevanceFilter(min_similarity=0.5).run(documents=DOCS, query_embedding=[2.0, 0.0])
    assert [d.id for d in kept["documents"]] == ["same", "close", "side"]
    assert kept["documents"][0].meta["similarity"] == 1.0
    assert all(d.embedding is None for d in kept["documents"])


def test_gap_drops_documents_far_below_the_best():
    kept = RelevanceFilter(min_similarity=0.0, max_gap=0.1).run(
        documents=DOCS, query_embedding=[1.0, 0.0]
    )
    assert [d.id for d in kept["documents"]] == ["same", "close"]


def test_nothing_relevant_gives_nothing():
    kept = RelevanceFilter(min_similarity=0.9).run(documents=DOCS[3:], query_embedding=[1.0, 0.0])
    assert kept["documents"] == []


def test_documents_need_embeddings_and_settings_are_checked():
    with pytest.raises(ValueError, match="return_embedding=True"):
        RelevanceFilter().run(documents=[Document(content="x")], query_embedding=[1.0])
    with pytest.raises(ValueError, match="max_gap"):
        RelevanceFilter(max_gap=3)
    assert round_trip(RelevanceFilter(min_similarity=0.4, max_gap=0.1))[0].max_gap == 0.1
