"""Ingest a folder and ask questions about it; print throughput and latency figures.

Figures, all from this one run on this machine:
- ingest: files, chunks, seconds, chunks/s; the encode-only throughput of the embedding model
  on the same chunks (the ceiling ingestion can approach) and ingestion's ratio to it;
- re-ingest of the unchanged folder, and its ratio to the first ingest;
- ask, in process with warm models: p50 / p95 seconds per question, and the first citation;
- `docent ask` as a command (a fresh process each time): p50 seconds.

Usage:
    .venv/bin/python bench/ingest_ask.py [FOLDER] [--runs N]
(default FOLDER: ../shared/data/fastapi_docs)
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import components  # noqa: F401  (offline defaults)
from pipelines.config import Settings
from pipelines.query.pipeline import QAPipeline

REPO = Path(__file__).resolve().parents[1]
FASTAPI_QUESTIONS = [
    "How do I declare a path parameter?",
    "How do I add CORS middleware?",
    "How do I declare a request body?",
    "How can I return a custom status code?",
    "How do I raise an HTTPException?",
    "How do I declare query parameters with default values?",
    "How do I upload files?",
    "How do I use dependencies?",
    "How do I run background tasks?",
    "How do I set up OAuth2 with a password flow?",
]


def _encode_only(settings: Settings, texts: list[str]) -> float:
    """Chunks per second of the embedding model alone, on the texts ingestion embedded."""
    from sentence_transformers import SentenceTransformer

    from components.shipped_models import embedding_model_path

    model = SentenceTransformer(embedding_model_path(settings.embedding.model))
    model.encode(texts[:64], batch_size=settings.embedding.batch_size)
    started = time.perf_counter()
    model.encode(texts, batch_size=settings.embedding.batch_size)
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default=str(REPO.parent / "shared/data/fastapi_docs"))
    parser.add_argument("--runs", type=int, default=3, help="runs of `docent ask` as a command")
    args = parser.parse_args()
    folder = Path(args.folder)
    if not folder.is_dir():
        sys.exit(f"{folder} is not a folder; pass the folder to ingest")
    data_dir = Path(tempfile.mkdtemp(prefix="docent-bench-"))
    settings = Settings(data_dir=data_dir)

    indexer = settings.open_indexer()
    first = indexer.ingest([folder])
    second = indexer.ingest([folder])
    texts = [f"{d.meta.get('section', '')}\n{d.content}" for d in indexer.store.filter_documents()]
    indexer.close()
    encode_rate = _encode_only(settings, texts)
    ingest_rate = first.chunks_written / first.seconds
    print(
        f"ingest {folder}: {first.count('ingested')} files, {first.count('failed')} failed, "
        f"{first.chunks_written} chunks in {first.seconds:.1f} s = {ingest_rate:.1f} chunks/s"
    )
    print(
        f"encode-only ceiling: {encode_rate:.1f} chunks/s; ingest / encode-only = "
        f"{ingest_rate / encode_rate:.2f}"
    )
    print(
        f"re-ingest unchanged: {second.count('unchanged')} unchanged, "
        f"{second.chunks_written} written in {second.seconds:.1f} s = "
        f"{second.seconds / first.seconds:.3f} of the first ingest"
    )

    qa = QAPipeline.from_settings(settings)
    qa.warm_up()
    questions = FASTAPI_QUESTIONS if folder.name == "fastapi_docs" else []
    seconds = []
    for question in questions:
        answer = qa.ask(question)
        seconds.append(answer.timings["total"])
        cited = Path(answer.citations[0].source).name if answer.citations else "-"
        print(f"  {answer.timings['total']:.2f} s  {question}  -> [{cited}] {answer.answer[:80]}")
    qa.close()
    if seconds:
        print(
            f"ask in process (warm): p50 {statistics.median(seconds):.2f} s, "
            f"p95 {sorted(seconds)[int(0.95 * (len(seconds) - 1))]:.2f} s over {len(seconds)}"
        )
        env = {**os.environ, "DOCENT_DATA_DIR": str(data_dir)}
        runs = []
        for _ in range(args.runs):
            started = time.perf_counter()
            subprocess.run(
                [str(Path(sys.executable).with_name("docent")), "ask", questions[0]],
                env=env,
                check=True,
                capture_output=True,
            )
            runs.append(time.perf_counter() - started)
        print(
            f"`docent ask` command (cold process): p50 {statistics.median(runs):.2f} s "
            f"over {len(runs)}"
        )


if __name__ == "__main__":
    main()
