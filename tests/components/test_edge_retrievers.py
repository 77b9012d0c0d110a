"""The edge retrievers in a Haystack pipeline, and their serialisation."""

import pytest
from haystack import Pipeline
from haystack.dataclasses import SparseEmbedding

from components.retrieval.edge_retrievers import (
    EdgeEmbeddingRetriever,
    EdgeHybridRetriever,
    EdgeSparseEmbeddingRetriever,
)
from components.stores.edge_document_store import EdgeDocumentStore
from tests.components.test_edge_document_store import _documents


@pytest.fixture
def store(tmp_path):
    store = EdgeDocumentStore(path=str(tmp_path / "shard"), embedding_dim=8)
    store.write_documents(_documents(200))
    yield store
    store.close()


def test_the_retrievers_run_in_a_pipeline_with_filters(store):
    documents = {d.id: d for d in store.filter_documents()}
    target = next(d for d in documents.values() if d.meta["tenant"] == "acme")
    pipeline = Pipeline()
    pipeline.add_component("dense", EdgeEmbeddingRetriever(document_store=store, top_k=3))
    pipeline.add_component("sparse", EdgeSparseEmbeddingRetriever(document_store=store, top_k=3))
    pipeline.add_component(
        "hybrid", EdgeHybridRetriever(document_store=store, top_k=3, return_embedding=True)
    )
    tenant = {"field": "meta.tenant", "operator": "==", "value": "acme"}
    sparse = SparseEmbedding(indices=target.sparse_embedding.indices, values=[1.0, 1.0])
    result = pipeline.run(
        {
            "dense": {"query_embedding": target.embedding, "filters": tenant},
            "sparse": {"query_sparse_embedding": sparse, "top_k": 5},
            "hybrid": {
                "query_embedding": target.embedding,
                "query_sparse_embedding": sparse,
                "filters": tenant,
            },
        }
    )
    dense = result["dense"]["documents"]
    assert dense[0].id == target.id and len(dense) == 3
    assert {d.meta["tenant"] for d in dense} == {"acme"}
    assert dense[0].embedding is None
    assert len(result["sparse"]["documents"]) == 5
    hybrid = result["hybrid"]["documents"]
    assert hybrid[0].id == target.id and {d.meta["tenant"] for d in hybrid} == {"acme"}
    assert hybrid[0].embedding is not None


@pytest.mark.parametrize(
    "retriever", [EdgeEmbeddingRetriever, EdgeSparseEmbeddingRetriever, EdgeHybridRetriever]
)
def test_serialisation_round_trip(store, retriever):
    original = retriever(
        document_store=store, top_k=4, filters={"field": "id", "operator": "==", "value": "x"}
    )
    again = retriever.from_dict(original.to_dict())
    assert again.to_dict() == original.to_dict()
    assert again.document_store.path == store.path and again.top_k == 4


def test_bad_arguments_are_refused(store):
    with pytest.raises(ValueError, match="top_k must be at least 1"):
        EdgeEmbeddingRetriever(document_store=store, top_k=0)
    with pytest.raises(ValueError, match="prefetch must be at least 1"):
        EdgeHybridRetriever(document_store=store, prefetch=0)
    with pytest.raises(ValueError, match="EdgeDocumentStore"):
        EdgeSparseEmbeddingRetriever(document_store=object())
