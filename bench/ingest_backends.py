"""First-ingest speed of each embedding backend (torch, onnx, onnx-int8), side by side.

Ingests the same folder (default ../shared/data/fastapi_docs) into a fresh data directory
once per backend, with the indexer's models loaded before the clock starts (the ONNX export,
made once into the model cache, is not timed), and prints chunks/s and the ratio to torch.

Usage:
    .venv/bin/python bench/ingest_backends.py [FOLDER] [--backends torch,onnx-int8]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

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
            finally:
                indexer.close()
        results[backend] = {
            "chunks": report.chunks_written,
            "seconds": round(seconds, 1),
            "chunks_per_second": round(report.chunks_written / seconds, 1),
        }
    base = next(iter(results.values()))["chunks_per_second"]
    print(f"{args.folder}: first ingest per embedding backend")
    print(f"{'backend':<10} {'chunks':>7} {'seconds':>8} {'chunks/s':>9} {'ratio':>6}")
    for backend, r in results.items():
        print(
            f"{backend:<10} {r['chunks']:>7} {r['seconds']:>8.1f} {r['chunks_per_second']:>9.1f} "
            f"{r['chunks_per_second'] / base:>6.2f}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
