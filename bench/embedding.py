"""Embedding speed and quality: the torch backend against ONNX Runtime (fp32 and int8).

On SciFact (../shared/data/scifact: 5,183 abstracts, the claims with relevance judgements)
encodes every abstract (title and text, as docent embeds a chunk's title with it) with the
shipped MiniLM through:
- torch: sentence-transformers, at its best batch size of 16, 32 and 64 (tried on a sample);
- onnx fp32 and onnx int8: `OnnxSentenceEncoder` (exported with torch's exporter, int8
  quantised per channel), length-bucketed batches.

Prints encode-only texts/s and the ratio to torch, the mean and lowest cosine to the torch
vectors, and dense-only nDCG@10 and recall@100 of each backend (exact search, numpy). The
issue's bar: nDCG@10 within 0.01 of torch.

Usage:
    .venv/bin/python bench/embedding.py [--data ../shared/data/scifact] [--limit N]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import components  # noqa: F401  (offline defaults)
from components.embedding.backends import sentence_encoder
from components.embedding.onnx_encoder import OnnxSentenceEncoder
from components.shipped_models import embedding_model_path
from evaluation.datasets import load_beir
from evaluation.metrics import ndcg_at_k, recall_at_k

REPO = Path(__file__).resolve().parents[1]


def quality(vectors: np.ndarray, ids: list[str], queries: np.ndarray, dataset) -> tuple:
    """Mean nDCG@10 and recall@100 of dense exact search."""
    scores = queries @ vectors.T
    ndcg, recall = [], []
    for row, query_id in enumerate(dataset.queries):
        top = np.argsort(-scores[row])[:100]
        ranked = [ids[i] for i in top]
        relevance = dataset.qrels.get(query_id, {})
        ndcg.append(ndcg_at_k(ranked, relevance, 10))
        recall.append(recall_at_k(ranked, relevance, 100))
    return float(np.mean(ndcg)), float(np.mean(recall))


def main() -> None:
    """Run the benchmark and print the table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "scifact")
    parser.add_argument("--limit", type=int, default=None, help="abstracts (default: all)")
    args = parser.parse_args()
    dataset = load_beir(args.data)
    dataset = dataset.__class__(
        corpus=dataset.corpus,
        queries={q: t for q, t in dataset.queries.items() if q in dataset.qrels},
        qrels=dataset.qrels,
    )
    ids = list(dataset.corpus)[: args.limit]
    texts = [f"{dataset.corpus[i]['title']}\n{dataset.corpus[i]['text']}" for i in ids]
    questions = list(dataset.queries.values())
    path = embedding_model_path("all-MiniLM-L6-v2")
    model = sentence_encoder(path)
    sample = texts[:256]
    speeds = {}
    for size in (16, 32, 64):
        started = time.perf_counter()
        model.encode(sample, batch_size=size, normalize_embeddings=True)
        speeds[size] = len(sample) / (time.perf_counter() - started)
    best = max(speeds, key=speeds.get)
    results = {}
    started = time.perf_counter()
    reference = model.encode(texts, batch_size=best, normalize_embeddings=True)
    seconds = time.perf_counter() - started
    query_vectors = model.encode(questions, batch_size=best, normalize_embeddings=True)
    results["torch"] = {
        "per_second": len(texts) / seconds,
        "cosine_mean": 1.0,
        "cosine_min": 1.0,
        "quality": quality(reference, ids, query_vectors, dataset),
    }
    with tempfile.TemporaryDirectory() as cache:
        for precision in ("fp32", "int8"):
            encoder = OnnxSentenceEncoder(model_path=path, cache_dir=cache, precision=precision)
            encoder.warm_up()
            started = time.perf_counter()
            vectors = encoder.encode(texts)
            seconds = time.perf_counter() - started
            cosines = (vectors * reference).sum(axis=1)
            results[f"onnx {precision}"] = {
                "per_second": len(texts) / seconds,
                "cosine_mean": float(cosines.mean()),
                "cosine_min": float(cosines.min()),
                "quality": quality(vectors, ids, encoder.encode(questions), dataset),
            }
    torch_speed, torch_ndcg = results["torch"]["per_second"], results["torch"]["quality"][0]
    print(f"SciFact: {len(texts)} abstracts, {len(questions)} claims; torch batch size {best}")
    print(
        f"{'backend':<10} {'texts/s':>8} {'ratio':>6} {'cos mean':>8} {'cos min':>8} "
        f"{'nDCG@10':>8} {'Δ':>7} {'R@100':>6}"
    )
    for name, r in results.items():
        ndcg, recall = r["quality"]
        print(
            f"{name:<10} {r['per_second']:>8.1f} {r['per_second'] / torch_speed:>6.2f} "
            f"{r['cosine_mean']:>8.4f} {r['cosine_min']:>8.4f} {ndcg:>8.4f} "
            f"{ndcg - torch_ndcg:>+7.4f} {recall:>6.3f}"
        )
    print(json.dumps({"torch_batch_size": best, "results": results}))


if __name__ == "__main__":
    main()
