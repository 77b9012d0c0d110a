"""RankFusion: Qdrant's reciprocal rank fusion, equal sums ordered by id."""

import pytest
from haystack import Document

from components.retrieval.rank_fusion import RankFusion, reciprocal_rank_fusion
from tests.components.helpers import round_trip


def docs(*ids: str) -> list[Document]:
    return [Document(id=i, content=i, score=1.0) for i in ids]


def test_documents_in_both_lists_rise_and_ties_go_by_id():
    fused = RankFusion(top_k=3).run(dense=docs("a", "b", "c"), sparse=docs("c", "d", "a"))
    ids = [d.id for d in fused["documents"]]
    # a: 1/2 + 1/4, c: 1/4 + 1/2 (equal: a before c by id), then b and d at 1/3 each.
    assert ids == ["a", "c", "b"]
    assert fused["documents"][0].score == pytest.approx(0.75)


def test_a_deeper_prefetch_lets_a_document_low_in_both_lists_in():
    dense = docs(*[f"d{i:02d}" for i in range(12)], "x")
    sparse = docs(*[f"s{i:02d}" for i in range(12)], "x")
    shallow = reciprocal_rank_fusion([dense[:10], sparse[:10]], top_k=30)
    deep = reciprocal_rank_fusion([dense, sparse], top_k=30)
    assert "x" not in {d.id for d in shallow} and "x" in {d.id for d in deep}


def test_round_trip_and_checked_arguments():
    copy, _ = round_trip(RankFusion(top_k=7))
    assert copy.top_k == 7
    with pytest.raises(ValueError):
        RankFusion(top_k=0)
