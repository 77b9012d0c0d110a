"""Open the Qdrant collection that holds the chunks."""

from pathlib import Path

from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from components.errors import StoreError
from ingest.config import StoreSettings


def open_store(settings: StoreSettings, path: Path, embedding_dim: int) -> QdrantDocumentStore:
    """Open (creating if needed) the collection in Qdrant local mode at `path`.

    The collection has a dense vector of `embedding_dim` (cosine) and a sparse vector with
    Qdrant's IDF modifier, for BM25.

    Raises:
        StoreError: the folder is used by another process, or the collection exists with other
            vector settings.
    """
    path.mkdir(parents=True, exist_ok=True)
    store = QdrantDocumentStore(
        path=str(path),
        index=settings.collection,
        embedding_dim=embedding_dim,
        use_sparse_embeddings=True,
        sparse_idf=True,
        similarity="cosine",
        progress_bar=False,
        recreate_index=False,
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
            f"cannot use the collection {settings.collection!r} at {path}: {message}. It was "
            "probably created with another embedding model; use another collection or data "
            "directory"
        ) from e
    return store
