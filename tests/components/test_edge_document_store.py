"""EdgeDocumentStore: Haystack's document store contract, search, persistence and crashes."""

import math
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from haystack import Document
from haystack.dataclasses import SparseEmbedding
from haystack.document_stores.types import DuplicatePolicy
from haystack.testing.document_store import DocumentStoreBaseTests

from components.errors import StoreError
from components.stores.edge_document_store import EdgeDocumentStore


def _unit(vector):
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else list(vector)


class TestHaystackContract(DocumentStoreBaseTests):
    """Haystack's own tests of counting, writing, deleting and every filter operator."""

    @pytest.fixture
    def document_store(self, tmp_path):
        store = EdgeDocumentStore(path=str(tmp_path / "shard"), embedding_dim=768)
        yield store
        store.close()

    @staticmethod
    def assert_documents_are_equal(received, expected):
        """The same documents in any order; Qdrant stores cosine vectors normalised."""

        def key(document):
            return document.id

        assert [d.id for d in sorted(received, key=key)] == [
            d.id for d in sorted(expected, key=key)
        ]
        for got, want in zip(sorted(received, key=key), sorted(expected, key=key), strict=True):
            assert (got.content, got.meta) == (want.content, want.meta)
            if want.embedding is None:
                assert got.embedding is None
            else:
                assert got.embedding == pytest.approx(_unit(want.embedding), abs=1e-5)

    def test_write_documents(self, document_store):
        """Without a policy, writing an id that is stored fails and changes nothing."""
        document = Document(content="first")
        assert document_store.write_documents([document]) == 1
        with pytest.raises(Exception, match="already stored"):
            document_store.write_documents([document, Document(content="second")])
        assert document_store.count_documents() == 1


def _documents(count, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    return [
        Document(
            content=f"chunk {i}",
            meta={"source": f"file{i % 10}.md", "tenant": "acme" if i % 2 else "globex"},
            embedding=rng.normal(size=dim).tolist(),
            sparse_embedding=SparseEmbedding(indices=[i % 7, 100 + i % 3], values=[1.0, 0.5]),
        )
        for i in range(count)
    ]


def _exact(documents, query, top_k, keep=lambda d: True):
    """The ids of the nearest documents by cosine, computed in numpy."""
    kept = [d for d in documents if keep(d)]
    matrix = np.array([_unit(d.embedding) for d in kept])
    order = np.argsort(-(matrix @ np.array(_unit(query))))[:top_k]
    return [kept[i].id for i in order]


def test_dense_sparse_and_hybrid_searches_rank_as_qdrant_does(tmp_path):
    documents = _documents(300)
    store = EdgeDocumentStore(path=str(tmp_path / "shard"), embedding_dim=8)
    store.write_documents(documents)
    query = documents[17].embedding
    dense = store.search_dense(query, top_k=5, return_embedding=True)
    assert [d.id for d in dense] == _exact(documents, query, 5)
    assert dense[0].score == pytest.approx(1.0, abs=1e-5)
    assert dense[0].embedding == pytest.approx(_unit(query), abs=1e-5)
    assert dense[0].sparse_embedding is None  # searches return the dense vector only
    assert store.get_documents_by_id([dense[0].id])[0].sparse_embedding is not None

    filtered = store.search_dense(
        query, top_k=5, filters={"field": "meta.tenant", "operator": "==", "value": "globex"}
    )
    assert [d.id for d in filtered] == _exact(
        documents, query, 5, keep=lambda d: d.meta["tenant"] == "globex"
    )
    assert all(d.embedding is None for d in filtered)

    # Term 3 is in every 7th chunk, term 101 in every 3rd: the rarer term weighs more (IDF).
    both = {d.id for d in documents if d.sparse_embedding.indices == [3, 101]}
    sparse = store.search_sparse(
        SparseEmbedding(indices=[3, 101], values=[1.0, 1.0]), top_k=len(both) + 5
    )
    assert {d.id for d in sparse[: len(both)]} == both
    rare_only = {d.id for d in documents if d.sparse_embedding.indices[0] == 3} - both
    assert {d.id for d in sparse[len(both) :]} <= rare_only

    sparse_query = SparseEmbedding(indices=[101, 3], values=[1.0, 0.2])
    hybrid = store.search_hybrid(query, sparse_query, top_k=5, return_embedding=True)
    # Reciprocal rank fusion of the two top-10 lists, 1 / (2 + rank) with ranks from 0.
    fused: dict[str, float] = {}
    for ranked in (
        store.search_dense(query, top_k=10),
        store.search_sparse(sparse_query, top_k=10),
    ):
        for rank, document in enumerate(ranked):
            fused[document.id] = fused.get(document.id, 0.0) + 1 / (2 + rank)
    assert [d.score for d in hybrid] == pytest.approx(sorted(fused.values(), reverse=True)[:5])
    assert documents[17].id in {d.id for d in hybrid}
    assert all(d.embedding is not None for d in hybrid)
    store.close()


@pytest.mark.slow  # 20,000 vectors written and indexed
def test_hnsw_search_after_optimize_keeps_recall_and_the_store_reopens(tmp_path):
    documents = _documents(20_000, dim=32, seed=1)
    path = str(tmp_path / "shard")
    store = EdgeDocumentStore(path=path, embedding_dim=32, exact_below=0)
    store.write_documents(documents)
    store.optimize()
    assert store.shard.info().indexed_vectors_count > 0
    queries = [d.embedding for d in documents[:50]]
    hits = [
        len({d.id for d in store.search_dense(q, top_k=10)} & set(_exact(documents, q, 10)))
        for q in queries
    ]
    assert sum(hits) / (10 * len(queries)) >= 0.95
    store.close()
    reopened = EdgeDocumentStore(path=path, embedding_dim=32)
    assert reopened.count_documents() == 20_000
    assert reopened.search_dense(queries[0], top_k=1)[0].id == documents[0].id
    reopened.close()


def test_a_second_open_and_another_dimension_are_refused_with_a_clear_error(tmp_path):
    path = str(tmp_path / "shard")
    store = EdgeDocumentStore(path=path, embedding_dim=8)
    store.write_documents(_documents(3))
    with pytest.raises(StoreError, match="in use by another docent process"):
        EdgeDocumentStore(path=path, embedding_dim=8).count_documents()
    store.close()
    with pytest.raises(StoreError, match="another embedding model"):
        EdgeDocumentStore(path=path, embedding_dim=16).count_documents()
    assert EdgeDocumentStore(path=path, embedding_dim=8).count_documents() == 3


def test_writes_survive_a_killed_process(tmp_path):
    """A process killed right after its writes (no close, no flush of its own) loses none."""
    path = tmp_path / "shard"
    script = f"""
import os, signal
from tests.components.test_edge_document_store import _documents
from components.stores.edge_document_store import EdgeDocumentStore
store = EdgeDocumentStore(path={str(path)!r}, embedding_dim=8)
for start in range(0, 3000, 500):
    store.write_documents(_documents(3000)[start:start + 500], policy=DuplicatePolicy.OVERWRITE)
store.delete_documents([d.id for d in _documents(3000)[:100]])
os.kill(os.getpid(), signal.SIGKILL)
"""
    script = "from haystack.document_stores.types import DuplicatePolicy\n" + script
    done = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd(), check=False)
    assert done.returncode == -signal.SIGKILL
    store = EdgeDocumentStore(path=str(path), embedding_dim=8)
    assert store.count_documents() == 2900
    assert store.get_documents_by_id([_documents(3000)[0].id]) == []
    store.close()


def test_write_policies_and_bad_vectors(tmp_path):
    store = EdgeDocumentStore(path=str(tmp_path / "shard"), embedding_dim=8)
    first = _documents(2)
    assert store.write_documents(first, policy=DuplicatePolicy.SKIP) == 2
    changed = Document(id=first[0].id, content="changed", embedding=first[0].embedding)
    assert store.write_documents([changed], policy=DuplicatePolicy.SKIP) == 0
    assert store.get_documents_by_id([first[0].id])[0].content == "chunk 0"
    assert store.write_documents([changed], policy=DuplicatePolicy.OVERWRITE) == 1
    assert store.get_documents_by_id([first[0].id])[0].content == "changed"
    with pytest.raises(ValueError, match="4-dimensional embedding; the store holds 8"):
        store.write_documents([Document(content="short", embedding=[1.0] * 4)])
    assert store.count_documents() == 2
    store.close()


def test_serialisation_round_trip(tmp_path):
    store = EdgeDocumentStore(path=str(tmp_path / "s"), embedding_dim=8, hnsw_ef=64)
    again = EdgeDocumentStore.from_dict(store.to_dict())
    assert again.to_dict() == store.to_dict()
    assert again.indexed_fields == ("meta.tenant", "meta.source")


def test_recreate_empties_the_store_but_never_one_in_use(tmp_path):
    path = str(tmp_path / "shard")
    held = EdgeDocumentStore(path=path, embedding_dim=8)
    held.write_documents(_documents(5))
    with pytest.raises(StoreError, match="in use"):
        EdgeDocumentStore(path=path, embedding_dim=16, recreate=True).count_documents()
    assert held.count_documents() == 5
    held.close()
    rebuilt = EdgeDocumentStore(path=path, embedding_dim=16, recreate=True)
    assert rebuilt.count_documents() == 0
    rebuilt.write_documents([Document(content="x", embedding=[1.0] * 16)])
    rebuilt.close()
    assert EdgeDocumentStore(path=path, embedding_dim=16).count_documents() == 1


@pytest.mark.slow  # 20,000 vectors written and indexed
def test_a_store_within_exact_below_finds_the_same_documents_however_it_was_built(tmp_path):
    documents = _documents(20_000, dim=32, seed=2)
    forward = EdgeDocumentStore(path=str(tmp_path / "forward"), embedding_dim=32)
    backward = EdgeDocumentStore(path=str(tmp_path / "backward"), embedding_dim=32)
    forward.write_documents(documents)
    for start in range(len(documents), 0, -1000):
        backward.write_documents(documents[max(0, start - 1000) : start])
    for store in (forward, backward):
        store.optimize()
        assert store.shard.info().indexed_vectors_count > 0, "an HNSW graph exists"
    for query in [d.embedding for d in documents[:40]]:
        expected = _exact(documents, query, 10)
        assert [d.id for d in forward.search_dense(query, top_k=10)] == expected
        assert [d.id for d in backward.search_dense(query, top_k=10)] == expected
    forward.close()
    backward.close()


def test_equal_scores_are_ranked_by_id_whatever_order_they_were_written_in(tmp_path):
    # Ten copies of one chunk (a repeated footer, say) and some others: every search ranks
    # the copies the same way, however they were written.
    copies = [
        Document(
            id=f"copy-{i}",
            content="The same footer",
            embedding=[1.0, 0.0, 0.0, 0.0],
            sparse_embedding=SparseEmbedding(indices=[3], values=[1.0]),
        )
        for i in range(10)
    ]
    others = _documents(30, dim=4, seed=3)
    stores = []
    for name, order in (("forward", copies + others), ("backward", others + copies[::-1])):
        store = EdgeDocumentStore(path=str(tmp_path / name), embedding_dim=4)
        for document in order:  # one write each: points land in the order given
            store.write_documents([document])
        stores.append(store)
    sparse = SparseEmbedding(indices=[3], values=[1.0])
    rankings = [
        (
            [d.id for d in store.search_dense([1.0, 0.0, 0.0, 0.0], top_k=4)],
            [d.id for d in store.search_sparse(sparse, top_k=4)],
            [d.id for d in store.search_hybrid([1.0, 0.0, 0.0, 0.0], sparse, top_k=4)],
        )
        for store in stores
    ]
    for store in stores:
        store.close()
    assert rankings[0] == rankings[1]
    assert rankings[0][0] == ["copy-0", "copy-1", "copy-2", "copy-3"]


def test_point_ids_are_those_qdrant_haystack_gives_the_same_documents():
    from haystack_integrations.document_stores.qdrant.converters import convert_id

    from components.stores.edge_points import point_id

    for document_id in ("a", "handbook/policy.md#3", "é" * 40):
        assert point_id(document_id) == convert_id(document_id)
