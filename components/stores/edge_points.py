"""Haystack documents as Qdrant Edge points and back, with qdrant-haystack's ids and vector
names, so that points move between the edge store and qdrant-haystack's unchanged."""

import uuid
from typing import Any

from haystack import Document
from haystack.dataclasses import SparseEmbedding
from qdrant_edge import Point, SparseVector

# qdrant-haystack's namespace for point ids (`converters.UUID_NAMESPACE`).
QDRANT_HAYSTACK_NAMESPACE = uuid.UUID("3896d314-1e95-4a3a-b45a-945f9f0b541d")

# The vector names of qdrant-haystack.
DENSE = "text-dense"
SPARSE = "text-sparse"


def point_id(document_id: str) -> str:
    """The point id of a document id: the one qdrant-haystack gives it (a UUID5 in its
    namespace), so a collection's ids do not depend on the kind of store that wrote it.
    Written here because importing qdrant-haystack's converters costs 0.6 s (qdrant-client)."""
    return uuid.uuid5(QDRANT_HAYSTACK_NAMESPACE, document_id).hex


def to_point(document: Document) -> Point:
    payload = document.to_dict(flatten=False)
    payload.pop("embedding", None)
    payload.pop("sparse_embedding", None)
    payload.pop("score", None)
    vector: dict[str, Any] = {}
    if document.embedding is not None:
        vector[DENSE] = list(document.embedding)
    if document.sparse_embedding is not None:
        vector[SPARSE] = to_sparse(document.sparse_embedding)
    return Point(point_id(document.id), vector, payload)


def to_sparse(embedding: SparseEmbedding) -> SparseVector:
    return SparseVector(list(embedding.indices), [float(v) for v in embedding.values])


def to_document(payload: dict, vector: Any, score: float | None = None) -> Document:
    data = dict(payload)
    vectors = vector if isinstance(vector, dict) else {}
    data["embedding"] = vectors.get(DENSE)
    sparse = vectors.get(SPARSE)
    if sparse is not None:
        data["sparse_embedding"] = {"indices": list(sparse.indices), "values": list(sparse.values)}
    data["score"] = score
    return Document.from_dict(data)
