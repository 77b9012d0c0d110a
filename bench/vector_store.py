"""Compare docent's two embedded vector stores at 100,000 chunks: Qdrant Edge and local mode.

Both stores are opened by docent (`ingest.store.open_store`, the settings it ships) and
searched through the retrievers its query pipeline uses, on the same documents: 100,000 real
texts (`bench/common.py::large_corpus`: SciFact, CLINC150, Banking77, FastAPI docs,
FaithBench) with their MiniLM vectors (ONNX int8) and docent's BM25 sparse vectors, spread
over 100 tenants. Queries are 500 SciFact claims and XQuAD questions, none in the corpus.

Measured, per store: write time; for the edge store, the HNSW build (`optimize`) and the
reopen time (open the folder and answer a first query); per query, after one untimed pass
over the queries (the edge store maps its files lazily, and the first queries page them in),
the latency of a dense top-10 search, of a sparse (BM25) top-10 search, of the hybrid search
docent runs (RRF, top 5) and of a dense search filtered to one tenant (1 % of the points).
Local mode is exact, so its lists are the reference: recall@10 is the share of its top 10
that the edge store returns (dense, and filtered). Sparse search is exact in both, so its
"recall" shows how chunks with equal scores are ordered differently, and the hybrid row (the
overlap of the top 5) shows both that and the dense search's approximation. Local mode is
timed on `--local-queries` queries (it takes about 0.1 s a query, 1 s filtered); the edge
store on all.

Usage:
    .venv/bin/python bench/vector_store.py [--data ../shared/data] [--points 100000]
        [--queries 500] [--local-queries 50] [--cache /tmp/docent-bench-vectors]
The vectors are cached in --cache (the first run embeds the 100,000 texts: about 10
minutes); a run then takes about 15 minutes, most of it writing local mode.
"""

import argparse
import gc
import json
import tempfile
import time
from pathlib import Path

from common import SHARED_DATA, TENANTS, documents, embedded, large_corpus, percentile, questions

import components  # noqa: F401  (offline defaults)
from components.embedding.bm25 import Bm25Encoder
from ingest.config import StoreSettings
from ingest.store import dense_retriever, hybrid_retriever, open_store, sparse_retriever


def timed_searches(store, queries, sparse_queries, count, warm):
    """Per-query latencies (s) and result ids of dense, sparse, hybrid and tenant-filtered
    searches, each timed after `warm` untimed queries (the edge store maps its files lazily:
    the first queries after opening page them in)."""
    dense = dense_retriever(store, 10)
    sparse = sparse_retriever(store, 10)
    hybrid = hybrid_retriever(store, 5)
    runs = {
        "dense": lambda i: dense.run(query_embedding=queries[i]),
        "sparse": lambda i: sparse.run(query_sparse_embedding=sparse_queries[i]),
        "hybrid": lambda i: hybrid.run(
            query_embedding=queries[i], query_sparse_embedding=sparse_queries[i]
        ),
        "filtered": lambda i: dense.run(
            query_embedding=queries[i],
            filters={"field": "meta.tenant", "operator": "==", "value": f"t{i % TENANTS}"},
        ),
    }
    results = {}
    for name, run in runs.items():
        for i in range(warm):
            run(i % len(queries))
        seconds, ids = [], []
        for i in range(count):
            started = time.perf_counter()
            found = run(i)["documents"]
            seconds.append(time.perf_counter() - started)
            ids.append([d.id for d in found])
        results[name] = {"seconds": seconds, "ids": ids}
    return results


def overlap(got: list[list[str]], want: list[list[str]]) -> float:
    """The share of the reference lists' ids that the other lists hold."""
    hits = sum(len(set(g) & set(w)) for g, w in zip(got, want, strict=False))
    return hits / sum(len(w) for w in want[: len(got)])


def main() -> None:
    """Run the benchmark and print the table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--local-queries", type=int, default=50)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "docent-bench-vectors"
    )
    args = parser.parse_args()
    texts = large_corpus(args.data, args.points)
    asked = questions(args.data, args.queries)
    print(f"{len(texts):,} texts, {len(asked)} questions", flush=True)
    vectors = embedded([t for _, t in texts], args.cache, f"corpus-{args.points}")
    query_vectors = [v.tolist() for v in embedded(asked, args.cache, f"questions-{args.queries}")]
    encoder = Bm25Encoder()
    sparse_queries = [encoder.encode_query(q) for q in asked]
    docs = documents(texts, vectors, encoder)
    # The 100,000 documents stay in memory for both stores; keep the collector off them so
    # that its full passes do not land inside timed searches.
    gc.freeze()
    dimension = vectors.shape[1]
    report: dict = {"points": len(docs), "queries": len(asked)}
    with tempfile.TemporaryDirectory() as folder:
        edge_settings = StoreSettings(kind="qdrant_edge")
        edge_path = Path(folder) / "edge"
        started = time.perf_counter()
        edge = open_store(edge_settings, edge_path, dimension)
        for start in range(0, len(docs), 5000):
            edge.write_documents(docs[start : start + 5000])
        report["edge_write_s"] = time.perf_counter() - started
        started = time.perf_counter()
        edge.optimize()
        report["edge_index_s"] = time.perf_counter() - started
        edge.close()
        started = time.perf_counter()
        edge = open_store(edge_settings, edge_path, dimension)
        dense_retriever(edge, 10).run(query_embedding=query_vectors[0])
        report["edge_reopen_s"] = time.perf_counter() - started
        print(
            f"edge: written in {report['edge_write_s']:.1f} s, indexed in "
            f"{report['edge_index_s']:.1f} s, reopened in {report['edge_reopen_s']:.3f} s",
            flush=True,
        )
        edge_runs = timed_searches(edge, query_vectors, sparse_queries, len(asked), warm=len(asked))
        edge.close()

        local_settings = StoreSettings(kind="qdrant_local")
        started = time.perf_counter()
        local = open_store(local_settings, Path(folder) / "local", dimension)
        for start in range(0, len(docs), 5000):
            local.write_documents(docs[start : start + 5000])
            print(f"  local mode: {start + 5000:,} written", flush=True)
        report["local_write_s"] = time.perf_counter() - started
        local_runs = timed_searches(
            local, query_vectors, sparse_queries, args.local_queries, warm=2
        )
        local.close()

    print(f"\n{len(docs):,} points, {dimension} dimensions; p50 / p95 per query")
    columns = ("local p50", 10), ("edge p50", 9), ("edge p95", 9), ("ratio", 7), ("recall", 7)
    print(f"{'search':<9} " + " ".join(f"{name:>{width}}" for name, width in columns))
    for name in ("dense", "sparse", "hybrid", "filtered"):
        local_p50 = percentile(local_runs[name]["seconds"], 0.5)
        edge_p50 = percentile(edge_runs[name]["seconds"], 0.5)
        edge_p95 = percentile(edge_runs[name]["seconds"], 0.95)
        recall = overlap(edge_runs[name]["ids"], local_runs[name]["ids"])
        report[name] = {
            "local_p50_ms": local_p50 * 1000,
            "edge_p50_ms": edge_p50 * 1000,
            "edge_p95_ms": edge_p95 * 1000,
            "ratio": local_p50 / edge_p50,
            "recall_vs_exact": recall,
        }
        print(
            f"{name:<9} {local_p50 * 1000:>8.1f}ms {edge_p50 * 1000:>7.2f}ms "
            f"{edge_p95 * 1000:>7.2f}ms {local_p50 / edge_p50:>6.0f}x {recall:>7.3f}"
        )
    print(
        f"write: local {report['local_write_s']:.0f} s, edge {report['edge_write_s']:.0f} s "
        f"+ index {report['edge_index_s']:.0f} s; edge reopen {report['edge_reopen_s']:.3f} s"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
