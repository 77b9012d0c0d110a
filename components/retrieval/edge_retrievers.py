"""Dense, sparse and hybrid retrieval from an EdgeDocumentStore."""

from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict
from haystack.dataclasses import SparseEmbedding

from components.stores.edge_document_store import EdgeDocumentStore


class _EdgeRetriever:
    """What the three retrievers share: the store, top_k, default filters, vectors or not."""

    def __init__(
        self,
        *,
        document_store: EdgeDocumentStore,
        top_k: int = 10,
        filters: dict[str, Any] | None = None,
        return_embedding: bool = False,
    ) -> None:
        """Create the retriever.

        :param top_k: how many documents to return.
        :param filters: a Haystack filter applied unless `run` is given one.
        :param return_embedding: return the documents' vectors too.
        """
        if not isinstance(document_store, EdgeDocumentStore):
            raise ValueError("document_store must be an EdgeDocumentStore")
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1 (got {top_k})")
        self.document_store = document_store
        self.top_k = top_k
        self.filters = filters
        self.return_embedding = return_embedding

    def to_dict(self) -> dict[str, Any]:
        """Serialise the retriever and its store's settings."""
        return default_to_dict(
            self,
            **{**self._parameters(), "document_store": self.document_store.to_dict()},
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """Rebuild the retriever from `to_dict`'s output."""
        params = data["init_parameters"]
        params["document_store"] = EdgeDocumentStore.from_dict(params["document_store"])
        return default_from_dict(cls, data)

    def _parameters(self) -> dict[str, Any]:
        return {
            "top_k": self.top_k,
            "filters": self.filters,
            "return_embedding": self.return_embedding,
        }

    def _options(self, filters: dict[str, Any] | None, top_k: int | None) -> dict[str, Any]:
        return {
            "filters": filters if filters is not None else self.filters,
            "top_k": top_k or self.top_k,
            "return_embedding": self.return_embedding,
        }


@component
class EdgeEmbeddingRetriever(_EdgeRetriever):
    """The documents nearest to a query embedding (cosine), through the store's HNSW index.

    Usage:
    ```python
    retriever = EdgeEmbeddingRetriever(document_store=store, top_k=5)
    documents = retriever.run(query_embedding=vector)["documents"]
    ```
    """

    @component.output_types(documents=list[Document])
    def run(
        self,
        query_embedding: list[float],
        filters: dict[str, Any] | None = None,
        top_k: int | None = None,
    ) -> dict[str, list[Document]]:
        """Return the nearest documents, best first, with `score` the cosine similarity."""
        options = self._options(filters, top_k)
        return {"documents": self.document_store.search_dense(query_embedding, **options)}


@component
class EdgeSparseEmbeddingRetriever(_EdgeRetriever):
    """The documents that score best on a sparse query: the dot product of its terms with the
    documents' BM25 weights, each term weighted by its IDF in the store.

    Usage:
    ```python
    retriever = EdgeSparseEmbeddingRetriever(document_store=store, top_k=5)
    documents = retriever.run(query_sparse_embedding=sparse_vector)["documents"]
    ```
    """

    @component.output_types(documents=list[Document])
    def run(
        self,
        query_sparse_embedding: SparseEmbedding,
        filters: dict[str, Any] | None = None,
        top_k: int | None = None,
    ) -> dict[str, list[Document]]:
        """Return the best-scoring documents, best first, with `score` their sparse score."""
        options = self._options(filters, top_k)
        return {"documents": self.document_store.search_sparse(query_sparse_embedding, **options)}


@component
class EdgeHybridRetriever(_EdgeRetriever):
    """Dense and sparse retrieval fused by reciprocal rank inside the engine, as Qdrant's
    hybrid query does: each search keeps its `prefetch` best, filtered, and a document scores
    the sum of 1 / (2 + rank) over the lists it is in.

    Usage:
    ```python
    retriever = EdgeHybridRetriever(document_store=store, top_k=5)
    documents = retriever.run(query_embedding=vector, query_sparse_embedding=sparse)["documents"]
    ```
    """

    def __init__(
        self,
        *,
        document_store: EdgeDocumentStore,
        top_k: int = 10,
        filters: dict[str, Any] | None = None,
        return_embedding: bool = False,
        prefetch: int = 10,
    ) -> None:
        """Create the retriever; `prefetch` is how many documents each search brings to the
        fusion (10, Qdrant's default)."""
        # @component rebuilds the class, so zero-argument super() does not work here.
        _EdgeRetriever.__init__(
            self,
            document_store=document_store,
            top_k=top_k,
            filters=filters,
            return_embedding=return_embedding,
        )
        if prefetch < 1:
            raise ValueError(f"prefetch must be at least 1 (got {prefetch})")
        self.prefetch = prefetch

    def _parameters(self) -> dict[str, Any]:
        return {**_EdgeRetriever._parameters(self), "prefetch": self.prefetch}

    @component.output_types(documents=list[Document])
    def run(
        self,
        query_embedding: list[float],
        query_sparse_embedding: SparseEmbedding,
        filters: dict[str, Any] | None = None,
        top_k: int | None = None,
    ) -> dict[str, list[Document]]:
        """Return the fused documents, best first, with `score` their RRF score."""
        documents = self.document_store.search_hybrid(
            query_embedding,
            query_sparse_embedding,
            prefetch=self.prefetch,
            **self._options(filters, top_k),
        )
        return {"documents": documents}
