"""Keep only the retrieved documents that are similar enough to the query."""

from dataclasses import replace
from typing import Any

import numpy as np
from haystack import Document, component


@component
class RelevanceFilter:
    """Drop documents that are not similar enough to the query, absolutely or next to the best.

    Fused (RRF) scores only rank; they say nothing about whether anything relevant was found.
    The cosine similarity of the query and chunk embeddings does: a document below
    `min_similarity` is dropped, so that nothing relevant means no answer rather than a guess,
    and so is one more than `max_gap` below the best document, because a small model handed a
    weak passage beside a strong one too often answers from the weak one. Each kept document
    gets `meta["similarity"]`; the order is kept.

    Usage:
    ```python
    relevant = RelevanceFilter(min_similarity=0.3, max_gap=0.2).run(
        documents=retrieved, query_embedding=query_vector
    )["documents"]
    ```
    """

    def __init__(self, *, min_similarity: float = 0.3, max_gap: float = 2.0) -> None:
        """Create the filter.

        :param min_similarity: the lowest cosine similarity, in [-1, 1], of a relevant document.
        :param max_gap: how far below the best document's similarity a document may be; 2.0
            (the default) keeps every document above `min_similarity`.
        """
        if not -1.0 <= min_similarity <= 1.0:
            raise ValueError(f"min_similarity must be in [-1, 1] (got {min_similarity})")
        if not 0.0 <= max_gap <= 2.0:
            raise ValueError(f"max_gap must be in [0, 2] (got {max_gap})")
        self.min_similarity = min_similarity
        self.max_gap = max_gap

    @component.output_types(documents=list[Document], top_similarity=float | None)
    def run(self, documents: list[Document], query_embedding: list[float]) -> dict[str, Any]:
        """Return the relevant documents, without their embeddings, and the best similarity
        of all retrieved (None when nothing was retrieved), kept or not.

        :param documents: retrieved documents, with `embedding` set.
        :param query_embedding: the dense embedding of the query.
        """
        query = np.asarray(query_embedding, dtype=np.float32)
        query /= np.linalg.norm(query) or 1.0
        similarities = []
        for document in documents:
            if document.embedding is None:
                raise ValueError(
                    f"document {document.id} has no embedding: retrieve with return_embedding=True"
                )
            vector = np.asarray(document.embedding, dtype=np.float32)
            similarities.append(float(query @ vector / (np.linalg.norm(vector) or 1.0)))
        floor = max([self.min_similarity, *(s - self.max_gap for s in similarities)])
        kept = [
            replace(document, meta={**document.meta, "similarity": round(s, 4)}, embedding=None)
            for document, s in zip(documents, similarities, strict=True)
            if s >= floor
        ]
        return {"documents": kept, "top_similarity": max(similarities, default=None)}
