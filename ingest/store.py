"""Open the Qdrant collection that holds the chunks: local mode in a folder, or a server."""

import os
from pathlib import Path

from haystack.utils import Secret
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from components.errors import StoreError
from ingest.config import StoreSettings

# Payload fields that filters use; a Qdrant server indexes them (local mode has no indexes).
INDEXED_FIELDS = [
    {"field_name": "meta.tenant", "field_schema": "keyword"},
    {"field_name": "meta.source", "field_schema": "keyword"},
]


def open_store(
    settings: StoreSettings, path: Path, embedding_dim: int, recreate: bool = False
) -> QdrantDocumentStore:
    """Open (creating if needed) the collection, in local mode at `path` or on the server.

    The collection has a dense vector of `embedding_dim` (cosine) and a sparse vector with
    Qdrant's IDF modifier, for BM25; on a server, `meta.tenant` and `meta.source` are indexed.

    :param recreate: delete the collection and create it empty.

    Raises:
        StoreError: the folder is used by another process, the server cannot be reached, or
            the collection exists with other vector settings.
    """
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
