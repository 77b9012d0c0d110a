"""Fuse ranked lists (dense, sparse, ...) by a weighted sum of their scores."""

from dataclasses import replace
from typing import Any, Literal

import numpy as np
from haystack import Document, component

Normalization = Literal["none", "min_max", "z_score"]
NORMALIZATIONS: tuple[str, ...] = ("none", "min_max", "z_score")
DEFAULT_WEIGHTS = {"dense": 1.0, "sparse": 0.015}


@component
class ScoreFusion:
    """Merge the results of several retrievers into one ranking by a weighted sum of scores.

    Reciprocal rank fusion keeps only the order of each list; the scores themselves say how
    much better the first document is than the tenth, and a weighted sum keeps that. Each key
    of `weights` is an input of the component, a list of retrieved documents with scores. With
    `normalization="none"` the raw scores are added: cosine similarity (about -1 to 1) plus
    0.015 times the BM25 score (0 to a few tens) ranks SciFact better than RRF and than per-list
    min-max or z-score normalisation (see `bench/scifact.py`). A document missing from a list
    gets that list's lowest score, a bound on what it would have scored there. Documents are
    matched by id; each output document carries the fused `score` and, in `meta`,
    `<input>_score` for each input (None where it was missing from that list).

    With `group_by` (a meta field such as "source"), the evidence of a whole file counts: each
    list scores a group by its best document, a document's fused score is that of its group,
    and documents of the same group follow each other, ordered by their own fused score. A
    chunk that matches the query's words beside a chunk of the same file that matches its
    meaning then ranks above a chunk that matches only one of the two.

    Usage:
    ```python
    fusion = ScoreFusion(weights={"dense": 1.0, "sparse": 0.015}, group_by="source", top_k=10)
    fused = fusion.run(dense=by_embedding, sparse=by_bm25)["documents"]
    ```
    """

    def __init__(
        self,
        *,
        weights: dict[str, float] | None = None,
        normalization: Normalization = "none",
        group_by: str | None = None,
        top_k: int = 10,
    ) -> None:
        """Create the fusion.

        :param weights: the weight of each input list, by input name; at least 0, not all 0.
            Default: {"dense": 1.0, "sparse": 0.015}, cosine similarity plus BM25.
        :param normalization: how each list's scores are scaled before they are weighted:
            "none" (raw scores), "min_max" (to [0, 1] within the list) or "z_score" (minus the
            list's mean, divided by its standard deviation).
        :param group_by: a meta field whose documents are scored together, by their best
            document in each list; None scores each document alone.
        :param top_k: how many fused documents to return at most.
        """
        weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
        if not weights or any(w < 0 for w in weights.values()) or not any(weights.values()):
            raise ValueError(f"weights must be at least 0 and not all 0 (got {weights})")
        bad_names = [n for n in weights if not n.isidentifier() or n == "top_k"]
        if bad_names:
            raise ValueError(
                f"weights: {bad_names[0]!r} cannot name an input; use a Python identifier "
                "other than top_k"
            )
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {', '.join(NORMALIZATIONS)} (got {normalization!r})"
            )
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1 (got {top_k})")
        self.weights = weights
        self.normalization = normalization
        self.group_by = group_by
        self.top_k = top_k
        component.set_input_types(self, **dict.fromkeys(weights, list[Document]))

    @component.output_types(documents=list[Document])
    def run(self, top_k: int | None = None, **lists: list[Document]) -> dict[str, Any]:
        """Return the fused ranking, best first; ties go to the smaller document id, so that the
        order never depends on which list, or which part of the store, returned a document first.

        :param top_k: overrides the `top_k` given at creation.
        :param lists: one list of retrieved documents, with `score` set, per key of `weights`.

        Raises:
            ValueError: a list is missing or unexpected, or a document has no score.
        """
        if set(lists) != set(self.weights):
            raise ValueError(
                f"expected the lists {', '.join(self.weights)} (got {', '.join(lists) or 'none'})"
            )
        scores = {name: self._scores(lists[name], name) for name in self.weights}
        by_id: dict[str, Document] = {}
        for name in self.weights:
            for document in lists[name]:
                by_id.setdefault(document.id, document)
        own = self._fuse(scores, by_id)
        if self.group_by is None:
            fused = own
            ranked = sorted(by_id, key=lambda doc_id: (-own[doc_id], doc_id))
        else:
            group_of = {doc_id: self._group(d) for doc_id, d in by_id.items()}
            by_group = {name: self._best_by_group(s, group_of) for name, s in scores.items()}
            group_scores = self._fuse(by_group, set(group_of.values()))
            fused = {doc_id: group_scores[group_of[doc_id]] for doc_id in by_id}
            ranked = sorted(by_id, key=lambda doc_id: (-fused[doc_id], -own[doc_id], doc_id))
        raw = {name: {d.id: d.score for d in lists[name]} for name in self.weights}
        documents = [
            replace(
                by_id[doc_id],
                score=fused[doc_id],
                meta={
                    **by_id[doc_id].meta,
                    **{f"{name}_score": raw[name].get(doc_id) for name in self.weights},
                },
            )
            for doc_id in ranked[: top_k or self.top_k]
        ]
        return {"documents": documents}

    def _fuse(self, scores: dict[str, dict[str, float]], keys) -> dict[str, float]:
        """The weighted sum for each of `keys`, a missing score being the lowest of its list."""
        floors = {name: min(s.values(), default=0.0) for name, s in scores.items()}
        return {
            key: sum(
                weight * scores[name].get(key, floors[name])
                for name, weight in self.weights.items()
            )
            for key in keys
        }

    def _group(self, document: Document) -> str:
        """The group of a document: its `group_by` field, or its id where it has none."""
        value = document.meta.get(self.group_by)
        return f"id:{document.id}" if value is None else f"group:{value}"

    @staticmethod
    def _best_by_group(scores: dict[str, float], group_of: dict[str, str]) -> dict[str, float]:
        """The best score of each group's documents."""
        best: dict[str, float] = {}
        for doc_id, value in scores.items():
            group = group_of[doc_id]
            best[group] = max(value, best.get(group, value))
        return best

    def _scores(self, documents: list[Document], name: str) -> dict[str, float]:
        """The normalised score of each document of one list, by id."""
        missing = [d.id for d in documents if d.score is None]
        if missing:
            raise ValueError(
                f"{name}: document {missing[0]} has no score; pass documents as retrieved"
            )
        if not documents:
            return {}
        values = np.array([d.score for d in documents], dtype=np.float64)
        if self.normalization == "min_max":
            spread = values.max() - values.min()
            values = (values - values.min()) / spread if spread > 0 else np.ones_like(values)
        elif self.normalization == "z_score":
            deviation = values.std()
            values = (values - values.mean()) / deviation if deviation > 0 else values * 0
        # A document retrieved twice in one list keeps its best score.
        best: dict[str, float] = {}
        for document, value in zip(documents, values.tolist(), strict=True):
            best[document.id] = max(value, best.get(document.id, value))
        return best
