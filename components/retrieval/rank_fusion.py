"""Reciprocal rank fusion of ranked lists, as Qdrant computes it."""

from dataclasses import replace
from typing import Any

from haystack import Document, component

# Qdrant's RRF: 1 / (k + rank), ranks from 0, with k = 2.
RRF_K = 2


def reciprocal_rank_fusion(lists: list[list[Document]], top_k: int) -> list[Document]:
    """The `top_k` documents of `lists` by the sum of 1 / (RRF_K + rank) over the lists each
    appears in, with that sum as `score`; equal sums rank by id, so that the order never
    depends on which list, or which part of the store, returned a document first."""
    fused: dict[str, float] = {}
    by_id: dict[str, Document] = {}
    for ranked in lists:
        for rank, document in enumerate(ranked):
            fused[document.id] = fused.get(document.id, 0.0) + 1 / (RRF_K + rank)
            by_id.setdefault(document.id, document)
    best = sorted(fused, key=lambda doc_id: (-fused[doc_id], doc_id))[:top_k]
    return [replace(by_id[doc_id], score=fused[doc_id]) for doc_id in best]


@component
class RankFusion:
    """Merge a dense and a sparse ranking by reciprocal rank fusion (see
    `reciprocal_rank_fusion`): the hybrid search of the Qdrant stores whose own fusion cannot
    be given a prefetch depth (local mode, a server), so that every store ranks alike.

    Usage:
    ```python
    fusion = RankFusion(top_k=5)
    fusion.run(dense=dense_hits, sparse=sparse_hits)["documents"]
    ```
    """

    def __init__(self, *, top_k: int = 10) -> None:
        """Create the fusion; `top_k` documents are kept."""
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1 (got {top_k})")
        self.top_k = top_k

    @component.output_types(documents=list[Document])
    def run(self, dense: list[Document], sparse: list[Document]) -> dict[str, Any]:
        """The fused ranking of the two lists, best first."""
        return {"documents": reciprocal_rank_fusion([sparse, dense], self.top_k)}
