"""Measure docent's retrieval on SciFact (BEIR): BM25, MiniLM dense, RRF hybrid, score fusion.

What is measured is what docent ships. Each abstract is chunked by docent's ingest
(`FileParser.parse_text`, default chunking: 200 MiniLM tokens, the title as section), each
chunk gets the shipped all-MiniLM-L6-v2 embedding of "section\\ncontent" and the BM25 sparse
vector of the same text from docent's `Bm25Encoder` (k1 1.2, b 0.75, 120 average terms), and
queries get docent's query encoders. A document's rank is that of its best chunk, as in
`docent eval --format beir`. Metrics are docent's own `ndcg_at_k` and `recall_at_k`.

Scores are computed in memory with numpy, not through Qdrant, so that a grid of settings takes
seconds: dense scores are dot products of normalised embeddings (Qdrant's cosine), sparse
scores the dot product of the query's terms, weighted by Qdrant's IDF
(ln(1 + (N - df + 0.5) / (df + 0.5)) over the chunks), with the chunk's BM25 weights. The
RRF row copies what docent's `QdrantHybridRetriever` gets from Qdrant local mode: each prefetch
brings its top 10 chunks (Qdrant's default prefetch limit) and RRF scores 1 / (rank + 2).
`--check-docs N` (default 300; 0 skips it) ingests N abstracts with docent's own `Indexer`
into Qdrant local mode, searches the queries judged on them through `QAPipeline.search` and
Qdrant's dense and sparse retrievers, and compares the rankings with the in-memory ones.

Methods (those tuned are tuned on these train queries only; no test split is used):
- BM25, MiniLM dense, RRF: docent's retrieval as shipped; nothing is tuned. "RRF, top 100
  each" is the same fusion with a prefetch of 100 chunks per retriever.
- ScoreFusion: docent's `ScoreFusion` component over the top 100 chunks of each retriever
  (Qdrant's dense and sparse searches), raw scores (cosine + w x BM25) per chunk or per file
  (`group_by="source"`: an abstract scores by its best chunk in each list), or min-max or
  z-score normalised per list; "+sentences" adds a third list, the top 100 single sentences
  of the abstracts by MiniLM (split at sentence ends, embedded without the title), which
  docent does not ingest today. "in-sample" is the best grid point on all queries; "CV"
  picks the grid point on four of five seeded folds and scores the fifth, pooled over the
  five held-out folds.
Published anchors (BEIR and MTEB SciFact test split, nDCG@10) are printed for scale; they are
on another split (300 test claims), so compare them loosely.

Usage:
    OMP_NUM_THREADS=1 .venv/bin/python bench/scifact.py [--data ../shared/data/scifact]
        [--cache /tmp/scifact_cache] [--check-docs 300] [--threads 1]
Embeddings, chunks and sparse vectors are cached in --cache (default: a temporary folder for
this run only); the first run embeds about 12,000 chunks and 45,000 sentences, about
30 minutes on one thread; later runs with the same --cache take about 6 minutes.
"""

import argparse
import hashlib
import json
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from haystack import Document

import components  # noqa: F401  (offline defaults)
from components.embedding.backends import sentence_encoder
from components.embedding.bm25 import Bm25Encoder
from components.retrieval.score_fusion import ScoreFusion
from components.shipped_models import embedding_dimension, embedding_model_path
from evaluation.datasets import RetrievalSet, load_beir
from evaluation.metrics import ndcg_at_k, recall_at_k
from ingest.config import ChunkingSettings, ParsingSettings
from ingest.parsing import FileParser

REPO = Path(__file__).resolve().parents[1]
MODEL = "all-MiniLM-L6-v2"
# Published SciFact nDCG@10 (BEIR test split): BM25 from BEIR's paper, the two dense models
# from the MTEB leaderboard.
ANCHORS = {"BM25 (BEIR)": 0.665, "all-MiniLM-L6-v2 (MTEB)": 0.645, "bge-small-en-v1.5": 0.713}
TARGET = 0.75
DEPTH = 100  # chunks each retriever hands to the fusion
PREFETCH = 10  # Qdrant's default prefetch limit, what docent's hybrid retriever fuses
RRF_K = 2  # Qdrant's RRF constant
FOLDS, SEED = 5, 0
RAW = [0.005, 0.0075, 0.01, 0.0125, 0.015, 0.0175, 0.02, 0.025, 0.03, 0.04, 0.05]
SCALED = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2, 1.5]
MIXED = [
    {"dense": a, "sentences": 1 - a, "sparse": w}
    for a in (0.25, 0.5, 0.75)
    for w in (0.0075, 0.01, 0.0125, 0.015, 0.02)
]
# name -> (ScoreFusion normalization, group_by, grid of weights)
FUSIONS = {
    "ScoreFusion raw, per chunk": ("none", None, [{"dense": 1, "sparse": w} for w in RAW]),
    "ScoreFusion raw, per file": ("none", "source", [{"dense": 1, "sparse": w} for w in RAW]),
    "ScoreFusion min-max, per file": (
        "min_max",
        "source",
        [{"dense": 1, "sparse": w} for w in SCALED],
    ),
    "ScoreFusion z-score, per file": (
        "z_score",
        "source",
        [{"dense": 1, "sparse": w} for w in SCALED],
    ),
    "ScoreFusion raw, per file, +sentences": ("none", "source", MIXED),
}
SHIPPABLE = "ScoreFusion raw, per file"  # needs no change to what docent ingests
BEST = "ScoreFusion raw, per file, +sentences"
# Sentence ends in an abstract; the sentences are embedded alone, without the title.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")


def progress(message: str) -> None:
    """Say what the benchmark is doing, on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Collection:
    """SciFact as docent indexes it: chunks with their document, text and vectors."""

    doc_ids: list[str]
    chunk_doc: np.ndarray  # index in doc_ids of each chunk's abstract
    chunk_texts: list[str]  # what is embedded: "section\ncontent"
    dense: np.ndarray  # normalised MiniLM embeddings, one row per chunk
    sparse: sp.csr_matrix  # BM25 document weights, one row per chunk, columns: `terms`
    terms: dict[int, int]  # term index (components.embedding.bm25.term_index) -> column
    idf: np.ndarray  # Qdrant's IDF of each column over the chunks
    sentence_doc: np.ndarray  # index in doc_ids of each sentence's abstract
    sentences: np.ndarray  # normalised MiniLM embeddings, one row per sentence


def _digest(texts: list[str]) -> str:
    return hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]


def chunk_corpus(beir: RetrievalSet, cache: Path) -> list[tuple[str, str]]:
    """`(document id, embedded text)` of every chunk, from docent's ingest chunking."""
    cached = cache / "scifact_chunks.json"
    if cached.is_file():
        return [tuple(c) for c in json.loads(cached.read_text())]
    parser = FileParser(
        parsing=ParsingSettings(),
        chunking=ChunkingSettings(),
        tokenizer=embedding_model_path(MODEL),
    )
    chunks = []
    for doc_id, record in beir.corpus.items():
        for chunk in parser.parse_text(f"beir:{doc_id}", record["title"], record["text"]).chunks:
            # Docent's embedders read meta "section" before the content (EMBEDDED_META).
            section = chunk.meta.get("section")
            chunks.append((doc_id, f"{section}\n{chunk.content}" if section else chunk.content))
    cached.write_text(json.dumps(chunks))
    return chunks


def embed(texts: list[str], cache: Path, label: str) -> np.ndarray:
    """Normalised MiniLM embeddings of `texts`, cached by their digest."""
    cached = cache / f"scifact_dense_{_digest(texts)}.npy"
    if cached.is_file():
        return np.load(cached)
    model_path = embedding_model_path(MODEL)
    encoder = sentence_encoder(model_path)
    order = np.argsort([len(t) for t in texts])  # similar lengths batch with little padding
    vectors = np.zeros((len(texts), embedding_dimension(model_path)), np.float32)
    started = time.perf_counter()
    for start in range(0, len(texts), 512):
        part = order[start : start + 512]
        vectors[part] = encoder.encode(
            [texts[i] for i in part], batch_size=32, normalize_embeddings=True
        )
        done = start + len(part)
        rate = done / (time.perf_counter() - started)
        eta = (len(texts) - done) / rate
        progress(f"{label}: {done}/{len(texts)} embedded, {rate:.0f}/s, ETA {eta:.0f} s")
    np.save(cached, vectors)
    return vectors


def sparse_vectors(texts: list[str], cache: Path) -> tuple[sp.csr_matrix, dict[int, int]]:
    """BM25 document vectors of `texts` from docent's encoder, as a matrix, cached."""
    cached = cache / f"scifact_sparse_{_digest(texts)}.npz"
    terms: dict[int, int] = {}
    if cached.is_file():
        matrix = sp.load_npz(cached)
        columns = json.loads(cached.with_suffix(".json").read_text())
        return matrix, {int(k): v for k, v in columns.items()}
    encoder = Bm25Encoder()
    rows, cols, values = [], [], []
    for row, text in enumerate(texts):
        vector = encoder.encode_document(text)
        for index, value in zip(vector.indices, vector.values, strict=True):
            rows.append(row)
            cols.append(terms.setdefault(index, len(terms)))
            values.append(value)
    matrix = sp.csr_matrix((values, (rows, cols)), shape=(len(texts), len(terms)))
    sp.save_npz(cached, matrix)
    cached.with_suffix(".json").write_text(json.dumps(terms))
    return matrix, terms


def build(beir: RetrievalSet, cache: Path) -> Collection:
    """Chunk, embed and BM25-encode the corpus the way docent's ingest does."""
    progress("chunking the abstracts with docent's ingest chunker")
    chunks = chunk_corpus(beir, cache)
    doc_ids = list(beir.corpus)
    position = {doc_id: i for i, doc_id in enumerate(doc_ids)}
    texts = [text for _, text in chunks]
    dense = embed(texts, cache, "chunks")
    progress("BM25 sparse vectors of the chunks")
    matrix, terms = sparse_vectors(texts, cache)
    df = np.bincount(matrix.indices, minlength=len(terms))
    idf = np.log((len(texts) - df + 0.5) / (df + 0.5) + 1)
    sentences = [
        (doc_id, sentence.strip())
        for doc_id, record in beir.corpus.items()
        for sentence in SENTENCE_END.split(record["text"])
        if sentence.strip()
    ]
    return Collection(
        doc_ids,
        np.array([position[d] for d, _ in chunks]),
        texts,
        dense,
        matrix,
        terms,
        idf,
        np.array([position[d] for d, _ in sentences]),
        embed([text for _, text in sentences], cache, "sentences"),
    )


def query_scores(collection: Collection, queries: list[str], cache: Path) -> dict[str, np.ndarray]:
    """Scores of every query: "dense" and "sparse" against every chunk ([queries, chunks]),
    "sentences" (dense) against every sentence ([queries, sentences])."""
    vectors = embed(queries, cache, "queries")
    dense = vectors @ collection.dense.T
    encoder = Bm25Encoder()
    rows, cols = [], []
    for row, query in enumerate(queries):
        for index in encoder.encode_query(query).indices:
            if index in collection.terms:  # a term no chunk has scores nothing
                rows.append(row)
                cols.append(collection.terms[index])
    weights = sp.csr_matrix(
        (collection.idf[cols], (rows, cols)), shape=(len(queries), len(collection.terms))
    )
    sparse = (weights @ collection.sparse.T).toarray().astype(np.float32)
    return {"dense": dense, "sparse": sparse, "sentences": vectors @ collection.sentences.T}


def top_chunks(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best chunks of each row, best first."""
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, 1), axis=1, kind="stable")
    return np.take_along_axis(top, order, 1)


def documents_of(collection: Collection, chunk_order: list[int]) -> list[str]:
    """Abstract ids in the order of their best chunk (what `docent eval` ranks)."""
    return list(dict.fromkeys(collection.doc_ids[collection.chunk_doc[c]] for c in chunk_order))


def by_best_chunk(collection: Collection, scores: np.ndarray) -> list[list[str]]:
    """Each query's abstracts ranked by their best chunk's score, the top 100."""
    starts = np.r_[0, np.flatnonzero(np.diff(collection.chunk_doc)) + 1]
    doc_scores = np.maximum.reduceat(scores, starts, axis=1)
    top = top_chunks(doc_scores, 100)
    return [[collection.doc_ids[d] for d in row] for row in top]


def rrf(collection: Collection, dense: np.ndarray, sparse: np.ndarray, prefetch: int = PREFETCH):
    """docent's hybrid retrieval in Qdrant local mode: RRF over each retriever's top
    `prefetch` chunks (10 as shipped: Qdrant's default prefetch limit)."""
    rankings = []
    for s_top, d_top in zip(top_chunks(sparse, prefetch), top_chunks(dense, prefetch), strict=True):
        fused: dict[int, float] = {}
        for ranked in (s_top, d_top):  # the sparse prefetch comes first, as in Qdrant's query
            for rank, chunk in enumerate(ranked.tolist()):
                fused[chunk] = fused.get(chunk, 0.0) + 1 / (rank + RRF_K)
        rankings.append(documents_of(collection, sorted(fused, key=fused.get, reverse=True)))
    return rankings


def unit_document(kind: str, unit: int, owner: np.ndarray, collection: Collection, score):
    """A retrieved chunk or sentence as a retriever returns it: id, score, abstract as source."""
    source = collection.doc_ids[owner[unit]]
    return Document(id=f"{kind}:{unit}", score=float(score), meta={"source": source})


def fused(collection: Collection, scores: dict[str, np.ndarray], fusion: ScoreFusion):
    """Rankings of `ScoreFusion` over the top `DEPTH` chunks or sentences of each list.

    Like Qdrant's sparse search, the sparse list leaves out chunks that share no term with
    the query (score 0).
    """
    units = {"dense": "chunk", "sparse": "chunk", "sentences": "sentence"}
    owners = {"chunk": collection.chunk_doc, "sentence": collection.sentence_doc}
    tops = {name: top_chunks(scores[name], DEPTH) for name in fusion.weights}
    rankings = []
    for q in range(len(next(iter(scores.values())))):
        lists = {}
        for name in fusion.weights:
            kind = units[name]
            lists[name] = [
                unit_document(kind, u, owners[kind], collection, scores[name][q, u])
                for u in tops[name][q].tolist()
                if name != "sparse" or scores[name][q, u] > 0
            ]
        result = fusion.run(top_k=len(fusion.weights) * DEPTH, **lists)["documents"]
        rankings.append(list(dict.fromkeys(d.meta["source"] for d in result)))
    return rankings


def score(rankings: list[list[str]], qrels: list[dict[str, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Per-query nDCG@10 and recall@100."""
    ndcg = [ndcg_at_k(r, rel, 10) for r, rel in zip(rankings, qrels, strict=True)]
    recall = [recall_at_k(r, rel, 100) for r, rel in zip(rankings, qrels, strict=True)]
    return np.array(ndcg), np.array(recall)


def cross_validate(grid: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
    """In-sample best grid point, and k-fold CV: picked on the other folds, scored held out."""
    points = list(grid)
    ndcg = np.stack([grid[p][0] for p in points])
    recall = np.stack([grid[p][1] for p in points])
    best = int(ndcg.mean(1).argmax())
    held_ndcg, held_recall, picks = np.zeros(ndcg.shape[1]), np.zeros(ndcg.shape[1]), []
    for fold in np.array_split(np.random.default_rng(SEED).permutation(ndcg.shape[1]), FOLDS):
        train = np.ones(ndcg.shape[1], bool)
        train[fold] = False
        pick = int(ndcg[:, train].mean(1).argmax())
        picks.append(points[pick])
        held_ndcg[fold], held_recall[fold] = ndcg[pick, fold], recall[pick, fold]
    return {
        "ndcg@10": float(ndcg[best].mean()),
        "recall@100": float(recall[best].mean()),
        "cv_ndcg@10": float(held_ndcg.mean()),
        "cv_recall@100": float(held_recall.mean()),
        "setting": points[best],
        "cv_settings": picks,
    }


def timed(function: Callable, *args) -> tuple[object, float]:
    """The result of `function(*args)` and the seconds it took."""
    started = time.perf_counter()
    return function(*args), time.perf_counter() - started


def measure(beir: RetrievalSet, cache: Path) -> tuple[dict, Collection]:
    """Every method's figures on the train queries, and the collection they were measured on."""
    collection = build(beir, cache)
    query_ids = list(beir.queries)
    qrels = [beir.qrels[q] for q in query_ids]
    scores, seconds = timed(query_scores, collection, list(beir.queries.values()), cache)
    dense, sparse = scores["dense"], scores["sparse"]
    progress(
        f"{len(query_ids)} queries x {len(collection.chunk_texts)} chunks scored in {seconds:.1f} s"
    )
    figures = {}
    plain = {
        "BM25 (sparse)": lambda: by_best_chunk(collection, sparse),
        "MiniLM dense": lambda: by_best_chunk(collection, dense),
        "RRF hybrid (as shipped)": lambda: rrf(collection, dense, sparse),
        "RRF hybrid, top 100 each": lambda: rrf(collection, dense, sparse, DEPTH),
    }
    for name, method in plain.items():
        rankings, seconds = timed(method)
        ndcg, recall = score(rankings, qrels)
        figures[name] = {
            "ndcg@10": float(ndcg.mean()),
            "recall@100": float(recall.mean()),
            "seconds": seconds,
        }
    for name, (normalization, group_by, grid) in FUSIONS.items():
        progress(f"{name}: {len(grid)} settings")
        started = time.perf_counter()
        results = {}
        for weights in grid:
            fusion = ScoreFusion(weights=weights, normalization=normalization, group_by=group_by)
            results[_label(weights)] = score(fused(collection, scores, fusion), qrels)
        figures[name] = cross_validate(results) | {
            "seconds": (time.perf_counter() - started) / len(grid)
        }
    return figures, collection


def check_with_qdrant(
    beir: RetrievalSet, collection: Collection, cache: Path, n_docs: int, fusion: ScoreFusion
) -> dict:
    """Rank a subset through docent's ingest and Qdrant local mode, and in memory; compare.

    The subset is the abstracts judged for 40 seeded queries plus random others, `n_docs` in
    all; IDF is that of the subset in both. Returns, per method, the mean nDCG@10 both ways
    and the share of queries whose top 10 abstracts are the same, in the same order;
    `fusion` (two lists, dense and sparse) runs over Qdrant's dense and sparse retrievers'
    top 100 chunks.
    """
    from haystack_integrations.components.retrievers.qdrant import (
        QdrantEmbeddingRetriever,
        QdrantSparseEmbeddingRetriever,
    )

    from components.embedding.bm25_sparse_text_embedder import Bm25SparseTextEmbedder
    from pipelines.config import Settings
    from pipelines.evaluate import retrieval_settings
    from pipelines.query.pipeline import QAPipeline

    rng = random.Random(SEED)
    query_ids = rng.sample(sorted(beir.queries), 40)
    chosen = {d for q in query_ids for d in beir.qrels[q] if d in beir.corpus}
    others = [d for d in beir.corpus if d not in chosen]
    chosen |= set(rng.sample(others, max(0, n_docs - len(chosen))))
    rows = np.flatnonzero([collection.doc_ids[d] in chosen for d in collection.chunk_doc])
    doc_ids = [d for d in collection.doc_ids if d in chosen]
    position = {d: i for i, d in enumerate(doc_ids)}
    sub_sparse = collection.sparse[rows]
    df = np.bincount(sub_sparse.indices, minlength=len(collection.terms))
    sentence_rows = np.flatnonzero(
        [collection.doc_ids[d] in chosen for d in collection.sentence_doc]
    )
    subset = Collection(
        doc_ids,
        np.array([position[collection.doc_ids[collection.chunk_doc[r]]] for r in rows]),
        [collection.chunk_texts[r] for r in rows],
        collection.dense[rows],
        sub_sparse,
        collection.terms,
        np.log((len(rows) - df + 0.5) / (df + 0.5) + 1),
        np.array([position[collection.doc_ids[collection.sentence_doc[r]]] for r in sentence_rows]),
        collection.sentences[sentence_rows],
    )
    texts = [beir.queries[q] for q in query_ids]
    qrels = [beir.qrels[q] for q in query_ids]
    scores = query_scores(subset, texts, cache)
    dense, sparse = scores["dense"], scores["sparse"]
    memory = {
        "BM25 (sparse)": by_best_chunk(subset, sparse),
        "MiniLM dense": by_best_chunk(subset, dense),
        "RRF hybrid (as shipped)": rrf(subset, dense, sparse),
        "ScoreFusion": fused(subset, scores, fusion),
    }
    with tempfile.TemporaryDirectory(prefix="docent-bench-scifact-qdrant-") as folder:
        settings = retrieval_settings(Settings(data_dir=Path(folder)), "scifact-check")
        progress(f"check: ingesting {len(doc_ids)} abstracts with docent's Indexer")
        indexer = settings.open_indexer()
        try:
            indexer.ingest_records(
                ((d, beir.corpus[d]["title"], beir.corpus[d]["text"]) for d in doc_ids), "beir"
            )
        finally:
            indexer.close()
        qa = QAPipeline.from_settings(settings)
        try:
            by_dense = QdrantEmbeddingRetriever(document_store=qa.store, top_k=DEPTH)
            by_sparse = QdrantSparseEmbeddingRetriever(document_store=qa.store, top_k=DEPTH)
            sparse_query = Bm25SparseTextEmbedder()
            query_vectors = embed(texts, cache, "check queries")
            qdrant: dict[str, list[list[str]]] = {name: [] for name in memory}
            started = time.perf_counter()
            for text, vector in zip(texts, query_vectors, strict=True):
                d_docs = by_dense.run(query_embedding=vector.tolist())["documents"]
                s_docs = by_sparse.run(
                    query_sparse_embedding=sparse_query.run(text=text)["sparse_embedding"]
                )["documents"]
                f_docs = fusion.run(dense=d_docs, sparse=s_docs, top_k=2 * DEPTH)
                for name, found in (
                    ("BM25 (sparse)", s_docs),
                    ("MiniLM dense", d_docs),
                    ("RRF hybrid (as shipped)", qa.search(text)),
                    ("ScoreFusion", f_docs["documents"]),
                ):
                    qdrant[name].append(
                        list(dict.fromkeys(d.meta["source"].split(":", 1)[1] for d in found))
                    )
            seconds = (time.perf_counter() - started) / len(texts)
        finally:
            qa.close()
    methods = {
        name: {
            "in_memory_ndcg@10": float(score(memory[name], qrels)[0].mean()),
            "qdrant_ndcg@10": float(score(qdrant[name], qrels)[0].mean()),
            "same_top10": float(
                np.mean([a[:10] == b[:10] for a, b in zip(memory[name], qdrant[name], strict=True)])
            ),
        }
        for name in memory
    }
    return {
        "methods": methods,
        "seconds_per_query": seconds,
        "docs": len(doc_ids),
        "queries": len(texts),
    }


def report(figures: dict, check: dict | None) -> None:
    """Print the table, the anchors, the Qdrant check, the target and one JSON line."""
    print("SciFact train: 809 claims, 5,183 abstracts; nDCG@10 and recall@100 (in memory)")
    print(
        f"{'method':38} {'nDCG@10':>8} {'R@100':>7} {'CV nDCG':>8} {'CV R@100':>9} "
        f"{'s':>5}  weights (in-sample best)"
    )
    for name, f in figures.items():
        cv = (
            f"{f['cv_ndcg@10']:8.4f} {f['cv_recall@100']:9.4f}"
            if "cv_ndcg@10" in f
            else f"{'-':>8} {'-':>9}"
        )
        print(
            f"{name:38} {f['ndcg@10']:8.4f} {f['recall@100']:7.4f} {cv} {f['seconds']:5.1f}  "
            f"{f.get('setting', '')}"
        )
    for name, value in ANCHORS.items():
        print(f"{'published (test split): ' + name:38} {value:8.3f}")
    if check:
        print(
            f"check against Qdrant local mode ({check['docs']} abstracts, {check['queries']} "
            f"queries, docent's Indexer; {1000 * check['seconds_per_query']:.0f} ms per query "
            "for all four): in-memory nDCG@10 / Qdrant nDCG@10 / same top 10"
        )
        for name, c in check["methods"].items():
            print(
                f"  {name:36} {c['in_memory_ndcg@10']:.4f} / {c['qdrant_ndcg@10']:.4f} / "
                f"{c['same_top10']:.0%}"
            )
    baseline = figures["RRF hybrid (as shipped)"]
    for name in (SHIPPABLE, BEST):
        best = figures[name]
        met = "met" if best["cv_ndcg@10"] >= TARGET else "not met"
        print(
            f"{name} / RRF as shipped: nDCG@10 x{best['cv_ndcg@10'] / baseline['ndcg@10']:.3f} "
            f"(cross-validated), recall@100 x{best['cv_recall@100'] / baseline['recall@100']:.3f}"
            f"; target nDCG@10 {TARGET} (CV): {met}"
        )
    print(json.dumps({"figures": figures, "check": check, "anchors": ANCHORS, "target": TARGET}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: OMP_NUM_THREADS=1 .venv/bin/python bench/scifact.py "
        "--cache /tmp/scifact_cache",
    )
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "scifact"))
    parser.add_argument("--cache", help="folder that keeps chunks and vectors between runs")
    parser.add_argument("--check-docs", type=int, default=300, help="0 skips the Qdrant check")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "corpus.jsonl").is_file():
        sys.exit(
            f"{data} holds no BEIR SciFact (corpus.jsonl, queries.jsonl, qrels.tsv); pass --data"
        )
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    beir = load_beir(data)
    with tempfile.TemporaryDirectory(prefix="docent-bench-scifact-") as scratch:
        cache = Path(args.cache or scratch)
        cache.mkdir(parents=True, exist_ok=True)
        figures, collection = measure(beir, cache)
        check = None
        if args.check_docs:
            normalization, group_by, grid = FUSIONS[SHIPPABLE]
            best = next(w for w in grid if _label(w) == figures[SHIPPABLE]["setting"])
            fusion = ScoreFusion(weights=best, normalization=normalization, group_by=group_by)
            check = check_with_qdrant(beir, collection, cache, args.check_docs, fusion)
        report(figures, check)


def _label(weights: dict[str, float]) -> str:
    """A short name for a grid point: "d=1,s=0.015"."""
    return ",".join(f"{name[:2]}={weight:g}" for name, weight in weights.items())


if __name__ == "__main__":
    main()
