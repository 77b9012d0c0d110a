"""First-ingest speed of each embedding backend (torch, onnx, onnx-int8) and each parser of
markup (structure, unstructured), side by side, and against each backend's own encode-only
limit.

Ingests the same folder (default ../shared/data/fastapi_docs) into a fresh data directory
once per parser and backend (`parsing.markup`: `structure` reads Markdown, HTML, RST and
plain text by their markup, `unstructured` has unstructured classify every paragraph), with
the indexer's models loaded and the parser processes' fork server started before the clock
starts (the ONNX export, made once into the model cache, is not timed), and prints chunks/s
and the ratio to the first row. Then the backend's encoder alone embeds the very texts the
ingest embedded (each chunk's section and content), at the best of batch sizes 16, 32 and 64
(tried on 256 of them): the limit an ingest could reach if parsing, BM25, writing and the
manifest cost nothing, and ingest chunks/s over that limit. Last, the folder is parsed and
chunked alone in one worker process, once per parser, with the ratio to the first parser;
with that, the bound is the fastest an ingest could be if parsing and encoding shared the
machine's cores perfectly, (parsing + cores x encode-only) / cores seconds, and the last
column is that bound over the ingest's time.

Usage:
    .venv/bin/python bench/ingest_backends.py [FOLDER] [--backends torch,onnx-int8]
        [--parsers unstructured,structure]
(about 3 minutes per parser and backend with fastapi_docs)
"""

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from common import encode_only

import components  # noqa: F401  (offline defaults)
from pipelines.config import Settings

REPO = Path(__file__).resolve().parents[1]


def parse_only(folder: Path, markup: str = "structure", limit: int | None = None) -> float:
    """Seconds to parse and chunk every file of `folder` (the first `limit`) in one worker
    process, as an ingest does: the CPU time parsing takes from the embedding model on a small
    machine."""
    from components.shipped_models import embedding_model_path
    from ingest.config import ChunkingSettings, ParsingSettings
    from ingest.parse_pool import ParsePool
    from ingest.parsing import FileParser
    from ingest.sources import find_sources

    parse = FileParser(
        parsing=ParsingSettings(markup=markup),
        chunking=ChunkingSettings(),
        tokenizer=embedding_model_path("all-MiniLM-L6-v2"),
    )
    paths = find_sources([folder]).files[:limit]
    started = time.perf_counter()
    with ParsePool(parse, workers=1, timeout=ParsingSettings().file_timeout) as pool:
        for _ in pool.parse(paths):
            pass
    return time.perf_counter() - started


def main() -> None:
    """Run the benchmark and print the table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "folder", nargs="?", type=Path, default=REPO.parent / "shared" / "data" / "fastapi_docs"
    )
    parser.add_argument("--backends", default="torch,onnx-int8")
    parser.add_argument("--parsers", default="unstructured,structure")
    args = parser.parse_args()
    # The parser processes fork from one server per process, started (and its modules
    # imported) on first use: start it now, so that no row pays for it.
    parse_only(args.folder, limit=1)
    results = {}
    for markup in args.parsers.split(","):
        for backend in args.backends.split(","):
            with tempfile.TemporaryDirectory() as data:
                settings = Settings(
                    data_dir=Path(data),
                    embedding={"backend": backend},
                    parsing={"markup": markup},
                )
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
            results[f"{markup}/{backend}"] = {
                "parser": markup,
                "backend": backend,
                "chunks": report.chunks_written,
                "seconds": round(seconds, 1),
                "chunks_per_second": round(report.chunks_written / seconds, 1),
                "encode_only_per_second": round(limit, 1),
                "encode_only_batch_size": batch,
            }
    parsing = {markup: parse_only(args.folder, markup) for markup in args.parsers.split(",")}
    cores = os.cpu_count() or 1
    base = next(iter(results.values()))["chunks_per_second"]
    print(f"{args.folder}: first ingest per parser and embedding backend")
    print(
        f"{'parser':<12} {'backend':<10} {'chunks':>7} {'seconds':>8} {'chunks/s':>9} "
        f"{'ratio':>6} {'encode-only':>11} {'of limit':>8} {'bound s':>8} {'of bound':>8}"
    )

    def bound(r: dict) -> float:
        encode = r["chunks"] / r["encode_only_per_second"]
        return (parsing[r["parser"]] + cores * encode) / cores

    for r in results.values():
        print(
            f"{r['parser']:<12} {r['backend']:<10} {r['chunks']:>7} {r['seconds']:>8.1f} "
            f"{r['chunks_per_second']:>9.1f} {r['chunks_per_second'] / base:>6.2f} "
            f"{r['encode_only_per_second']:>11.1f} "
            f"{r['chunks_per_second'] / r['encode_only_per_second']:>8.0%} "
            f"{bound(r):>8.1f} {bound(r) / r['seconds']:>8.0%}"
        )
    first = next(iter(parsing.values()))
    for markup, seconds in parsing.items():
        print(
            f"parsing alone, {markup}, one process: {seconds:.1f} s "
            f"({first / seconds:.2f}x the speed of {next(iter(parsing))})"
        )
    print(
        f"Bound: the fastest an ingest can be on {cores} cores if parsing and encoding shared "
        f"them perfectly, (parsing + {cores} x encode-only seconds) / cores"
    )
    print(json.dumps({"ingest": results, "parse_only_seconds": parsing}))


if __name__ == "__main__":
    main()
