"""ScoreFusion: weighted sum of dense and sparse scores, per document or per file."""

import random
from pathlib import Path

import pytest
from haystack import Document
from haystack.document_stores.types import DuplicatePolicy
from haystack_integrations.components.embedders.sentence_transformers import (
    SentenceTransformersDocumentEmbedder,
    SentenceTransformersTextEmbedder,
)
from haystack_integrations.components.retrievers.qdrant import (
    QdrantEmbeddingRetriever,
    QdrantSparseEmbeddingRetriever,
)
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from components.embedding.bm25_sparse_document_embedder import Bm25SparseDocumentEmbedder
from components.embedding.bm25_sparse_text_embedder import Bm25SparseTextEmbedder
from components.retrieval.score_fusion import ScoreFusion
from components.shipped_models import embedding_dimension, embedding_model_path
from evaluation.datasets import load_beir
from evaluation.metrics import ndcg_at_k
from tests.components.helpers import round_trip

SCIFACT = Path(__file__).resolve().parents[3] / "shared" / "data" / "scifact"


def doc(name, score, source=None):
    return Document(id=name, content=name, score=score, meta={"source": source or name})


def test_weighted_sum_with_the_lowest_score_for_a_missing_document():
    dense = [doc("a", 0.9), doc("b", 0.5), doc("c", 0.4)]
    sparse = [doc("c", 20.0), doc("d", 10.0)]
    fused = ScoreFusion(weights={"dense": 1.0, "sparse": 0.02}).run(dense=dense, sparse=sparse)
    scores = {d.id: round(d.score, 4) for d in fused["documents"]}
    # a: 0.9 + 0.02 * 10 (sparse floor); c: 0.4 + 0.4; d: 0.4 (dense floor) + 0.2
    assert scores == {"a": 1.1, "c": 0.8, "b": 0.7, "d": 0.6}
    assert [d.id for d in fused["documents"]] == ["a", "c", "b", "d"]
    first = fused["documents"][0]
    assert first.meta["dense_score"] == 0.9 and first.meta["sparse_score"] is None


def test_normalisations_and_top_k():
    dense = [doc("a", 0.9), doc("b", 0.7), doc("c", 0.5)]
    sparse = [doc("c", 30.0), doc("b", 20.0), doc("a", 10.0)]
    min_max = ScoreFusion(weights={"dense": 1.0, "sparse": 1.0}, normalization="min_max")
    fused = min_max.run(dense=dense, sparse=sparse)["documents"]
    assert {d.id: d.score for d in fused} == pytest.approx({"a": 1.0, "b": 1.0, "c": 1.0})
    z = ScoreFusion(weights={"dense": 1.0, "sparse": 2.0}, normalization="z_score", top_k=1)
    assert [d.id for d in z.run(dense=dense, sparse=sparse)["documents"]] == ["c"]
    assert len(z.run(dense=dense, sparse=sparse, top_k=3)["documents"]) == 3


@pytest.mark.parametrize("group_by", [None, "source"])
def test_ties_are_ranked_by_id_whatever_order_the_lists_come_in(group_by):
    # Three documents with the same score: the order of the store's results must not matter.
    tied = [doc("b", 0.5), doc("c", 0.5), doc("a", 0.5)]
    fusion = ScoreFusion(weights={"dense": 1.0}, group_by=group_by, top_k=2)
    rankings = {
        tuple(d.id for d in fusion.run(dense=order)["documents"])
        for order in (tied, tied[::-1], tied[1:] + tied[:1])
    }
    assert rankings == {("a", "b")}


def test_any_number_of_named_lists():
    fusion = ScoreFusion(weights={"chunks": 0.5, "sentences": 0.5, "bm25": 0.01})
    fused = fusion.run(
        chunks=[doc("a", 0.6), doc("b", 0.5)],
        sentences=[doc("b", 0.9), doc("a", 0.5)],
        bm25=[doc("a", 10.0), doc("b", 5.0)],
    )["documents"]
    assert [(d.id, round(d.score, 3)) for d in fused] == [("b", 0.75), ("a", 0.65)]
    assert fused[0].meta["sentences_score"] == 0.9
    with pytest.raises(ValueError, match="expected the lists chunks, sentences, bm25"):
        fusion.run(chunks=[], sentences=[])


def test_group_by_scores_a_file_by_its_best_chunks():
    # File x has the best dense chunk (x1) and a good sparse chunk (x2); y's one chunk wins
    # each list alone by a little but loses once the file's evidence is put together.
    dense = [doc("x1", 0.80, "x"), doc("y1", 0.78, "y"), doc("x2", 0.60, "x")]
    sparse = [doc("y1", 20.5, "y"), doc("x2", 20.0, "x"), doc("x1", 5.0, "x")]
    weights = {"dense": 1.0, "sparse": 0.02}
    alone = ScoreFusion(weights=weights).run(dense=dense, sparse=sparse)
    assert [d.id for d in alone["documents"]] == ["y1", "x2", "x1"]
    grouped = ScoreFusion(weights=weights, group_by="source").run(dense=dense, sparse=sparse)[
        "documents"
    ]
    # x: 0.80 + 0.02 * 20 = 1.2 beats y: 0.78 + 0.02 * 20.5 = 1.19; within x, by own score.
    assert [d.id for d in grouped] == ["x2", "x1", "y1"]
    assert grouped[0].score == grouped[1].score == pytest.approx(0.8 + 0.4)


def test_settings_are_checked_and_serialise():
    with pytest.raises(ValueError, match="normalization must be one of"):
        ScoreFusion(normalization="rank")
    with pytest.raises(ValueError, match="not all 0"):
        ScoreFusion(weights={"dense": 0, "sparse": 0})
    with pytest.raises(ValueError, match="cannot name an input"):
        ScoreFusion(weights={"top_k": 1.0})
    with pytest.raises(ValueError, match="no score"):
        ScoreFusion().run(dense=[Document(content="x")], sparse=[])
    weights = {"dense": 1.0, "sparse": 0.015}
    restored, data = round_trip(ScoreFusion(weights=weights, group_by="source", top_k=7))
    assert data["init_parameters"]["weights"] == weights
    assert (restored.weights, restored.group_by, restored.top_k) == (weights, "source", 7)


@pytest.mark.slow  # 150 SciFact abstracts embedded and searched in two ways
@pytest.mark.skipif(not SCIFACT.is_dir(), reason="needs ../shared/data/scifact")
def test_on_scifact_fusion_ranks_better_than_either_retriever():
    """Real abstracts, the shipped MiniLM and docent's BM25 in Qdrant local mode."""
    beir = load_beir(SCIFACT)
    rng = random.Random(0)
    queries = rng.sample(sorted(beir.queries), 30)
    wanted = {d for q in queries for d in beir.qrels[q]} & set(beir.corpus)
    wanted |= set(rng.sample(sorted(set(beir.corpus) - wanted), 120))
    model = embedding_model_path("all-MiniLM-L6-v2")
    documents = [
        Document(
            id=f"{i:040d}",
            content=beir.corpus[d]["text"],
            meta={"source": d, "section": beir.corpus[d]["title"]},
        )
        for i, d in enumerate(sorted(wanted))
    ]
    dense_embedder = SentenceTransformersDocumentEmbedder(
        model=model,
        normalize_embeddings=True,
        meta_fields_to_embed=["section"],
        progress_bar=False,
        local_files_only=True,
    )
    dense_embedder.warm_up()
    documents = dense_embedder.run(documents=documents)["documents"]
    documents = Bm25SparseDocumentEmbedder(meta_fields_to_embed=["section"]).run(
        documents=documents
    )["documents"]
    store = QdrantDocumentStore(
        ":memory:",
        embedding_dim=embedding_dimension(model),
        use_sparse_embeddings=True,
        sparse_idf=True,
        similarity="cosine",
    )
    store.write_documents(documents, policy=DuplicatePolicy.OVERWRITE)
    query_embedder = SentenceTransformersTextEmbedder(
        model=model, normalize_embeddings=True, progress_bar=False, local_files_only=True
    )
    query_embedder.warm_up()
    by_dense = QdrantEmbeddingRetriever(document_store=store, top_k=50)
    by_sparse = QdrantSparseEmbeddingRetriever(document_store=store, top_k=50)
    fusion = ScoreFusion(weights={"dense": 1.0, "sparse": 0.015}, group_by="source", top_k=10)
    ndcg = {"dense": [], "sparse": [], "fused": []}
    for query in queries:
        text = beir.queries[query]
        dense = by_dense.run(query_embedding=query_embedder.run(text=text)["embedding"])
        sparse = by_sparse.run(
            query_sparse_embedding=Bm25SparseTextEmbedder().run(text=text)["sparse_embedding"]
        )
        fused = fusion.run(dense=dense["documents"], sparse=sparse["documents"])
        for name, found in (
            ("dense", dense["documents"]),
            ("sparse", sparse["documents"]),
            ("fused", fused["documents"]),
        ):
            ranked = list(dict.fromkeys(d.meta["source"] for d in found))
            ndcg[name].append(ndcg_at_k(ranked, beir.qrels[query], 10))
    mean = {name: sum(values) / len(values) for name, values in ndcg.items()}
    assert mean["fused"] >= max(mean["dense"], mean["sparse"]), mean
