"""Hybrid search with the relevance gate: the first half of a rag route."""

from typing import Any

from haystack import Document, component

from components.embedding.backends import text_embedder
from components.embedding.bm25_sparse_text_embedder import Bm25SparseTextEmbedder
from components.retrieval.rank_fusion import RankFusion
from components.retrieval.relevance_filter import RelevanceFilter
from components.retrieval.score_fusion import ScoreFusion
from ingest.store import Store, dense_retriever, hybrid_retriever, sparse_retriever
from pipelines import timing
from pipelines.config import Settings
from pipelines.query.graph import Configured


@component
class HybridSearch(Configured):
    """The chunks relevant to a query, best first: MiniLM dense and BM25 sparse retrieval,
    fused with RRF (in the store, over `retrieval.prefetch` per list) or by score
    (`retrieval.fusion: score`), then the relevance floor (`retrieval.min_similarity`,
    `max_similarity_gap`); each chunk keeps its dense `similarity`.

    Its components are called directly, in order, not through a Haystack Pipeline:
    Pipeline.run deep-copies every input, checking each element of a list against the
    Component protocol, which costs about 20 ms a search with 384-float embeddings
    (bench/profiles.py); the stages are timed and traced the same way.
    """

    def __init__(self, settings: Settings, store: Store, embedder_path: str) -> None:
        """Search `store` as `settings.retrieval` says, embedding queries with the model at
        `embedder_path` (loaded on `warm_up` or first use)."""
        retrieval = settings.retrieval
        self._embed_dense = text_embedder(embedder_path, settings.embedding.backend)
        self._embed_sparse = Bm25SparseTextEmbedder(language=settings.sparse.language)
        # RRF fuses in the store's hybrid search where it can be given the prefetch depth;
        # score fusion, and RRF of a store that cannot, fuse the two lists here.
        self.hybrid = None
        if retrieval.fusion == "rrf":
            self.hybrid = hybrid_retriever(store, retrieval.top_k, retrieval.prefetch)
        self._fusion: tuple[Any, Any, Any] | None = None
        if self.hybrid is None:
            score = retrieval.fusion == "score"
            depth = retrieval.candidates if score else retrieval.prefetch
            fusion = (
                ScoreFusion(
                    weights=retrieval.fusion_weights,
                    group_by=retrieval.fusion_group_by,
                    top_k=retrieval.top_k,
                )
                if score
                else RankFusion(top_k=retrieval.top_k)
            )
            self._fusion = (dense_retriever(store, depth), sparse_retriever(store, depth), fusion)
        self._relevance = RelevanceFilter(
            min_similarity=retrieval.min_similarity, max_gap=retrieval.max_similarity_gap
        )

    def warm_up(self) -> None:
        """Load the query embedder now."""
        self._embed_dense.warm_up()

    @component.output_types(
        documents=list[Document], top_similarity=float | None, fallback_used=bool
    )
    def run(
        self, query: str, tenant: str | None = None, fallback_query: str | None = None
    ) -> dict[str, Any]:
        """The relevant chunks (`documents`), and the best similarity of all retrieved
        (`top_similarity`; None: nothing was retrieved).

        :param tenant: search only the chunks ingested for this tenant.
        :param fallback_query: searched instead when `query` finds nothing relevant (a
            follow-up with the question before it); `fallback_used` says it was.
        """
        found = self._search(query, tenant)
        if not found["documents"] and fallback_query is not None:
            found = self._search(fallback_query, tenant)
            return {**found, "fallback_used": True}
        return {**found, "fallback_used": False}

    def _search(self, query: str, tenant: str | None) -> dict[str, Any]:
        filters = (
            {"field": "meta.tenant", "operator": "==", "value": tenant}
            if tenant is not None
            else None
        )
        with timing.component("embed_dense"):
            embedding = self._embed_dense.run(text=query)["embedding"]
        with timing.component("embed_sparse"):
            sparse = self._embed_sparse.run(text=query)["sparse_embedding"]
        if self.hybrid is not None:
            with timing.component("retrieve"):
                documents = self.hybrid.run(
                    query_embedding=embedding, query_sparse_embedding=sparse, filters=filters
                )["documents"]
        else:
            by_dense, by_sparse, fusion = self._fusion
            with timing.component("retrieve_dense"):
                dense = by_dense.run(query_embedding=embedding, filters=filters)["documents"]
            with timing.component("retrieve_sparse"):
                lexical = by_sparse.run(query_sparse_embedding=sparse, filters=filters)["documents"]
            with timing.component("retrieve"):
                documents = fusion.run(dense=dense, sparse=lexical)["documents"]
        with timing.component("filter"):
            kept = self._relevance.run(documents=documents, query_embedding=embedding)
        return {"documents": kept["documents"], "top_similarity": kept["top_similarity"]}
