"""First-ingest speed of each embedding backend (torch, onnx, onnx-int8), side by side, and
against each backend's own encode-only limit.

Ingests the same folder (default ../shared/data/fastapi_docs) into a fresh data directory
once per backend, with the indexer's models loaded before the clock starts (the ONNX export,
made once into the model cache, is not timed), and prints chunks/s and the ratio to torch.
Then the backend's encoder alone embeds the very texts the ingest embedded (each chunk's
section and content), at the best of batch sizes 16, 32 and 64 (tried on 256 of them): the
limit an ingest could reach if parsing, BM25, writing and the manifest cost nothing. The
last column is ingest chunks/s over that limit.

Usage:
    .venv/bin/python bench/ingest_backends.py [FOLDER] [--backends torch,onnx-int8]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import encode_only

import components  # noqa: F401  (offline defaults)
from pipelines.config import Settings

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    """Run the benchmark and print the table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "folder", nargs="?", type=Path, default=REPO.parent / "shared" / "data" / "fastapi_docs"
    )
    parser.add_argument("--backends", default="torch,onnx-int8")
    args = parser.parse_args()
    results = {}
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as data:
            settings = Settings(data_dir=Path(data), embedding={"backend": backend})
            indexer = settings.open_indexer()
            try:
                indexer.warm_up()
                started = time.perf_counter()
                report = indexer.ingest([args.folder])
                seconds = time.perf_counter() - started
                texts = [
                    f"{d.meta.get('section', '')}\n{d.content}"
                    for d in indexer.store.filter_documents()
                ]
            finally:
                indexer.close()
        limit, batch = encode_only(settings, texts)
        results[backend] = {
            "chunks": report.chunks_written,
            "seconds": round(seconds, 1),
            "chunks_per_second": round(report.chunks_written / seconds, 1),
            "encode_only_per_second": round(limit, 1),
            "encode_only_batch_size": batch,
        }
    base = next(iter(results.values()))["chunks_per_second"]
    print(f"{args.folder}: first ingest per embedding backend")
    print(
        f"{'backend':<10} {'chunks':>7} {'seconds':>8} {'chunks/s':>9} {'ratio':>6} "
        f"{'encode-only':>11} {'of limit':>8}"
    )
    for backend, r in results.items():
        print(
            f"{backend:<10} {r['chunks']:>7} {r['seconds']:>8.1f} {r['chunks_per_second']:>9.1f} "
            f"{r['chunks_per_second'] / base:>6.2f} {r['encode_only_per_second']:>11.1f} "
            f"{r['chunks_per_second'] / r['encode_only_per_second']:>8.0%}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
