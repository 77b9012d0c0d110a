"""A Haystack document store on Qdrant Edge: Qdrant's Rust engine in process, in a folder."""

import shutil
from pathlib import Path
from typing import Any

from haystack import Document, default_from_dict, default_to_dict, logging
from haystack.dataclasses import SparseEmbedding
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.document_stores.types import DuplicatePolicy
from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    HnswIndexConfig,
    Modifier,
    PayloadSchemaType,
    Query,
    QueryRequest,
    ScrollRequest,
    SearchParams,
    UpdateMode,
    UpdateOperation,
)

from components.errors import StoreError
from components.retrieval.rank_fusion import reciprocal_rank_fusion
from components.stores.edge_filters import convert_filters
from components.stores.edge_points import DENSE, SPARSE, point_id, to_document, to_point, to_sparse

logger = logging.getLogger(__name__)

WRITE_BATCH = 512
SCROLL_PAGE = 1024
# Results read beyond `top_k` at first, so that equal scores at the cut are ordered by id.
TIE_SLACK = 8


class EdgeDocumentStore:
    """Documents with a dense (cosine) and a sparse (BM25 with IDF) vector, in a Qdrant Edge
    shard in a folder: HNSW and payload indexes, a write-ahead log, no server.

    Searches with `return_embedding` return the dense embedding (not the sparse one);
    `filter_documents` and `get_documents_by_id` return both.

    Points carry qdrant-haystack's payload (the document without its vectors) and ids (a
    UUID derived from the document id). The shard is opened on first use; one process at a
    time may hold a folder. A store of at most `exact_below` documents is searched exactly
    (every vector compared), so the same query on the same documents gives the same results
    however and in whatever order they were written (about 1.2 ms at 20,000 documents and
    4 ms at 50,000 on 2 cores, against 0.8 and 1.2 ms through HNSW); a larger one through
    its HNSW graph, which is approximate and built in parallel, so two stores built apart
    may disagree on near ties. `optimize()` builds the indexes of what was written.

    Usage:
    ```python
    store = EdgeDocumentStore(path="data/edge/docent", embedding_dim=384)
    store.write_documents(documents)
    store.optimize()
    hits = store.search_dense(query_embedding, top_k=5)
    ```
    """

    def __init__(
        self,
        *,
        path: str,
        embedding_dim: int = 384,
        hnsw_ef: int = 128,
        exact_below: int = 50_000,
        indexed_fields: tuple[str, ...] = ("meta.tenant", "meta.source"),
        recreate: bool = False,
    ) -> None:
        """Describe the store; the shard opens (or is created) on first use.

        :param path: the shard's folder.
        :param embedding_dim: the dense vectors' dimension.
        :param hnsw_ef: candidates kept while searching the HNSW graph (higher: better recall,
            slower).
        :param exact_below: the most documents the store may hold for its searches to be
            exact; 0 always uses the HNSW graph.
        :param indexed_fields: payload fields with a keyword index, for fast filters.
        :param recreate: delete what the folder holds when the shard opens.
        """
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be at least 1 (got {embedding_dim})")
        if hnsw_ef < 1:
            raise ValueError(f"hnsw_ef must be at least 1 (got {hnsw_ef})")
        if exact_below < 0:
            raise ValueError(f"exact_below must be 0 or more (got {exact_below})")
        self.path = path
        self.embedding_dim = embedding_dim
        self.hnsw_ef = hnsw_ef
        self.exact_below = exact_below
        self.indexed_fields = tuple(indexed_fields)
        self.recreate = recreate
        self._shard: EdgeShard | None = None
        self._count: int | None = None  # documents held, known since the last change

    def to_dict(self) -> dict[str, Any]:
        """Serialise the store's settings."""
        return default_to_dict(
            self,
            path=self.path,
            embedding_dim=self.embedding_dim,
            hnsw_ef=self.hnsw_ef,
            exact_below=self.exact_below,
            indexed_fields=list(self.indexed_fields),
            recreate=self.recreate,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EdgeDocumentStore":
        """Rebuild the store from `to_dict`'s output."""
        data["init_parameters"]["indexed_fields"] = tuple(data["init_parameters"]["indexed_fields"])
        return default_from_dict(cls, data)

    @property
    def shard(self) -> EdgeShard:
        """The open shard, opened (or created) now if needed.

        Raises:
            StoreError: another process holds the folder, or it holds a shard with another
                vector size.
        """
        if self._shard is None:
            self._shard = self._open()
        return self._shard

    def _open(self) -> EdgeShard:
        folder = Path(self.path)
        config = EdgeConfig(
            vectors={DENSE: EdgeVectorParams(size=self.embedding_dim, distance=Distance.Cosine)},
            sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
            hnsw_config=HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=10_000),
        )
        existing = (folder / "edge_config.json").exists()
        if self.recreate and existing:
            # Open it first, so that a shard another process holds is never deleted under it.
            self._guarded(folder, lambda: EdgeShard.load(str(folder))).close()
            shutil.rmtree(folder)
            existing = False
        self.recreate = False
        if existing:
            shard = self._guarded(folder, lambda: EdgeShard.load(str(folder), config))
        else:
            shard = self._guarded(folder, lambda: EdgeShard.create(str(folder), config))
        schema = shard.info().payload_schema
        for field in self.indexed_fields:
            if field not in schema:
                shard.update(UpdateOperation.create_field_index(field, PayloadSchemaType.Keyword))
        return shard

    @staticmethod
    def _guarded(folder: Path, opener: Any) -> EdgeShard:
        """Run `opener`, turning the binding's errors into StoreErrors that say what to do."""
        try:
            return opener()
        except Exception as e:  # the binding raises bare Exceptions, told apart by message
            message = str(e)
            if "WouldBlock" in message:
                raise StoreError(
                    f"the vector store at {folder} is in use by another docent process (or "
                    "another store in this one); wait for it to finish"
                ) from e
            raise StoreError(
                f"cannot open the Qdrant Edge store at {folder}: {message}. If it was made with "
                "another embedding model, use another collection or data directory, or rebuild"
            ) from e

    def close(self) -> None:
        """Flush and release the shard (it reopens on next use)."""
        if self._shard is not None:
            self._shard.flush()
            self._shard.close()
            self._shard = None
            self._count = None

    def optimize(self) -> bool:
        """Build the HNSW and payload indexes of what was written, and merge small segments;
        blocks until done. Returns whether anything changed."""
        return self.shard.optimize()

    def count_documents(self) -> int:
        """How many documents the store holds."""
        return self.shard.count(CountRequest(exact=True))

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """The documents that match a Haystack filter (all without one), with their vectors.

        Raises:
            FilterError: the filter is malformed.
        """
        condition = convert_filters(filters)
        documents: list[Document] = []
        offset = None
        while True:
            records, offset = self.shard.scroll(
                ScrollRequest(
                    offset=offset,
                    limit=SCROLL_PAGE,
                    filter=condition,
                    with_payload=True,
                    with_vector=True,
                )
            )
            documents.extend(to_document(r.payload, r.vector) for r in records)
            if offset is None:
                return documents

    def get_documents_by_id(self, ids: list[str]) -> list[Document]:
        """The stored documents among `ids`, with their vectors (unknown ids are skipped)."""
        records = self.shard.retrieve([point_id(i) for i in ids], True, True)
        return [to_document(r.payload, r.vector) for r in records]

    def _stored_ids(self, ids: list[str]) -> set[str]:
        """The ids among `ids` that are stored, read without payloads' text or vectors."""
        records = self.shard.retrieve([point_id(i) for i in ids], ["id"], False)
        return {r.payload["id"] for r in records}

    def write_documents(
        self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE
    ) -> int:
        """Write documents; returns how many were written. The write is in the write-ahead log
        when this returns, and on disk after the flush that ends it.

        :param policy: OVERWRITE replaces documents with the same id, SKIP keeps the stored
            one, FAIL (and NONE) raise on any id already stored.

        Raises:
            ValueError: something in `documents` is not a Document, or has a dense vector of
                another dimension.
            DuplicateDocumentError: with FAIL or NONE, an id is already stored (nothing is
                written).
        """
        for document in documents:
            if not isinstance(document, Document):
                raise ValueError(f"write_documents takes Documents, not {type(document).__name__}")
            if document.embedding is not None and len(document.embedding) != self.embedding_dim:
                raise ValueError(
                    f"document {document.id} has a {len(document.embedding)}-dimensional "
                    f"embedding; the store holds {self.embedding_dim}-dimensional ones"
                )
        unique = list({d.id: d for d in documents}.values())
        if policy in (DuplicatePolicy.FAIL, DuplicatePolicy.NONE):
            if len(unique) < len(documents):
                raise DuplicateDocumentError("the documents to write repeat an id")
            stored = self._stored_ids([d.id for d in unique])
            if stored:
                raise DuplicateDocumentError(
                    f"{len(stored)} of the documents are already stored (e.g. {min(stored)})"
                )
        elif policy == DuplicatePolicy.SKIP:
            stored = self._stored_ids([d.id for d in unique])
            unique = [d for d in unique if d.id not in stored]
        for start in range(0, len(unique), WRITE_BATCH):
            points = [to_point(d) for d in unique[start : start + WRITE_BATCH]]
            self.shard.update(UpdateOperation.upsert_points(points, update_mode=UpdateMode.Upsert))
        if unique:
            self.shard.flush()
            self._count = None
        return len(unique)

    def delete_documents(self, document_ids: list[str]) -> None:
        """Delete the documents with these ids (unknown ids are ignored)."""
        if document_ids:
            self.shard.update(UpdateOperation.delete_points([point_id(i) for i in document_ids]))
            self.shard.flush()
            self._count = None

    def search_dense(
        self,
        query_embedding: list[float],
        *,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        return_embedding: bool = False,
    ) -> list[Document]:
        """The `top_k` documents nearest to the embedding (cosine), best first."""
        query = Query.Nearest(list(query_embedding), using=DENSE)
        return self._query(query, filters, top_k, return_embedding)

    def search_sparse(
        self,
        query_sparse_embedding: SparseEmbedding,
        *,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        return_embedding: bool = False,
    ) -> list[Document]:
        """The `top_k` documents that score best on the sparse query (dot product of the
        query's terms with the documents' weights, times each term's IDF), best first."""
        query = Query.Nearest(to_sparse(query_sparse_embedding), using=SPARSE)
        return self._query(query, filters, top_k, return_embedding)

    def search_hybrid(
        self,
        query_embedding: list[float],
        query_sparse_embedding: SparseEmbedding,
        *,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        prefetch: int = 10,
        return_embedding: bool = False,
    ) -> list[Document]:
        """The `top_k` documents by reciprocal rank fusion of the best `prefetch` of the
        sparse and of the dense search, both filtered: 1 / (RRF_K + rank), ranks from 0, as
        Qdrant's RRF. It is fused here rather than in the engine, whose lists order equal
        scores by where the points lie (see `_query`): here equal scores rank by id."""
        lists = (
            self.search_sparse(
                query_sparse_embedding,
                filters=filters,
                top_k=prefetch,
                return_embedding=return_embedding,
            ),
            self.search_dense(
                query_embedding, filters=filters, top_k=prefetch, return_embedding=return_embedding
            ),
        )
        return reciprocal_rank_fusion(list(lists), top_k)

    def _query(
        self,
        query: Any,
        filters: dict[str, Any] | None,
        top_k: int,
        return_embedding: bool,
    ) -> list[Document]:
        # The engine orders equal scores by where the points lie in its segments, which
        # depends on the order they were written in (e.g. which parser finished first). More
        # are read until every point that ties with the last one kept is in hand, and equal
        # scores are ordered by id: the same ranking every time.
        condition = convert_filters(filters)
        limit = top_k + TIE_SLACK
        while True:
            points = self.shard.query(
                QueryRequest(
                    limit=limit,
                    query=query,
                    filter=condition,
                    params=self._params(limit),
                    with_payload=True,
                    # The dense vector only: the sparse one is read by nothing downstream and
                    # costs a tenth of a fast search to convert.
                    with_vector=[DENSE] if return_embedding else False,
                )
            )
            if len(points) < limit or points[-1].score != points[top_k - 1].score:
                break
            limit *= 2
        documents = [to_document(p.payload, p.vector, p.score) for p in points]
        documents.sort(key=lambda d: (-d.score, d.id))
        return documents[:top_k]

    def _params(self, limit: int) -> SearchParams:
        """Exact search up to `exact_below` documents, HNSW with at least `limit` candidates
        beyond."""
        if self._count is None:
            self._count = self.count_documents()
        return SearchParams(hnsw_ef=max(self.hnsw_ef, limit), exact=self._count <= self.exact_below)
