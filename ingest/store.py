"""Open the collection that holds the chunks (Qdrant Edge or local mode in a folder, or a
Qdrant server), and the retrievers that search it."""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Union

from haystack.utils import Secret

from components.errors import StoreError
from components.retrieval.edge_retrievers import (
    EdgeEmbeddingRetriever,
    EdgeHybridRetriever,
    EdgeSparseEmbeddingRetriever,
)
from components.stores.edge_document_store import EdgeDocumentStore
from ingest.config import StoreSettings

# qdrant-client, which qdrant-haystack needs, takes 0.6 s to import: only Qdrant local mode
# and a server load it.
if TYPE_CHECKING:
    from haystack_integrations.components.retrievers.qdrant import (
        QdrantEmbeddingRetriever,
        QdrantHybridRetriever,
        QdrantSparseEmbeddingRetriever,
    )
    from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

Store = Union[EdgeDocumentStore, "QdrantDocumentStore"]

# Payload fields that filters use; the edge store and a server index them (local mode has no
# indexes).
INDEXED_FIELDS = [
    {"field_name": "meta.tenant", "field_schema": "keyword"},
    {"field_name": "meta.source", "field_schema": "keyword"},
]


def open_store(
    settings: StoreSettings, path: Path, embedding_dim: int, recreate: bool = False
) -> Store:
    """Open (creating if needed) the collection: a Qdrant Edge shard in `path/<collection>`,
    local mode at `path`, or on the server.

    The collection has a dense vector of `embedding_dim` (cosine) and a sparse vector with
    Qdrant's IDF modifier, for BM25; on the edge store and a server, `meta.tenant` and
    `meta.source` are indexed.

    :param recreate: delete the collection and create it empty.

    Raises:
        StoreError: the folder is used by another process, the server cannot be reached, or
            the collection exists with other vector settings.
    """
    if settings.kind == "qdrant_edge":
        path.mkdir(parents=True, exist_ok=True)
        edge = EdgeDocumentStore(
            path=str(path / settings.collection),
            embedding_dim=embedding_dim,
            hnsw_ef=settings.hnsw_ef,
            exact_below=settings.exact_search_max,
            indexed_fields=tuple(f["field_name"] for f in INDEXED_FIELDS),
            recreate=recreate,
        )
        edge.count_documents()  # opens it now, so that errors surface here
        return edge
    if settings.kind == "qdrant_server":
        where = settings.url
        location = {
            "url": settings.url,
            "api_key": _api_key(settings),
            "timeout": int(settings.timeout),
            "payload_fields_to_index": INDEXED_FIELDS,
        }
    else:
        where = str(path)
        path.mkdir(parents=True, exist_ok=True)
        location = {"path": str(path)}
    from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

    store = QdrantDocumentStore(
        **location,
        index=settings.collection,
        embedding_dim=embedding_dim,
        use_sparse_embeddings=True,
        sparse_idf=True,
        similarity="cosine",
        progress_bar=False,
        recreate_index=recreate,
    )
    try:
        store.count_documents()
    except (RuntimeError, ValueError) as e:
        message = str(e)
        if "already accessed" in message:
            raise StoreError(
                f"the vector store at {path} is in use by another docent process; wait for it "
                "to finish (Qdrant local mode allows one process at a time)"
            ) from e
        raise StoreError(
            f"cannot use the collection {settings.collection!r} at {where}: {message}. It was "
            "probably created with another embedding model; use another collection or data "
            "directory"
        ) from e
    except Exception as e:
        # qdrant-client raises transport errors of httpx and grpc, with no common base class.
        raise StoreError(
            f"cannot reach the Qdrant server at {where} ({type(e).__name__}: {e}); check "
            "store.url, the network and the API key"
        ) from e
    return store


def _api_key(settings: StoreSettings) -> Secret | None:
    if not settings.api_key_env:
        return None
    if not os.environ.get(settings.api_key_env):
        raise StoreError(
            f"store.api_key_env names {settings.api_key_env}, but that environment variable is "
            "not set; export the Qdrant API key in it"
        )
    return Secret.from_env_var(settings.api_key_env)


def dense_retriever(
    store: Store, top_k: int
) -> Union[EdgeEmbeddingRetriever, "QdrantEmbeddingRetriever"]:
    """The dense retriever for the store's kind, returning embeddings (for the relevance
    filter)."""
    if isinstance(store, EdgeDocumentStore):
        return EdgeEmbeddingRetriever(document_store=store, top_k=top_k, return_embedding=True)
    from haystack_integrations.components.retrievers.qdrant import QdrantEmbeddingRetriever

    return QdrantEmbeddingRetriever(document_store=store, top_k=top_k, return_embedding=True)


def sparse_retriever(
    store: Store, top_k: int
) -> Union[EdgeSparseEmbeddingRetriever, "QdrantSparseEmbeddingRetriever"]:
    """The sparse (BM25) retriever for the store's kind, returning embeddings."""
    if isinstance(store, EdgeDocumentStore):
        return EdgeSparseEmbeddingRetriever(
            document_store=store, top_k=top_k, return_embedding=True
        )
    from haystack_integrations.components.retrievers.qdrant import QdrantSparseEmbeddingRetriever

    return QdrantSparseEmbeddingRetriever(document_store=store, top_k=top_k, return_embedding=True)


def hybrid_retriever(
    store: Store, top_k: int, prefetch: int = 10
) -> Union[EdgeHybridRetriever, "QdrantHybridRetriever", None]:
    """The hybrid (RRF over the top `prefetch` of each search) retriever for the store's
    kind, returning embeddings. Qdrant's own hybrid query (local mode, a server) always fuses
    its top 10: a store of those kinds with another `prefetch` gets None; fuse its dense and
    sparse retrievers with `RankFusion` instead."""
    if isinstance(store, EdgeDocumentStore):
        return EdgeHybridRetriever(
            document_store=store, top_k=top_k, prefetch=prefetch, return_embedding=True
        )
    if prefetch != 10:
        return None
    from haystack_integrations.components.retrievers.qdrant import QdrantHybridRetriever

    return QdrantHybridRetriever(document_store=store, top_k=top_k, return_embedding=True)
