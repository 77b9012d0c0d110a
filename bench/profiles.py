"""Where the time of an ingest and of a question goes: pyinstrument profiles, by stage.

Ingests `--files` pages of the FastAPI documentation (`../shared/data/fastapi_docs`) into a
fresh data directory with docent's `Indexer` (the configured defaults, or `--config`), then
asks `--questions` questions about them with `QAPipeline.ask` (the shipped Gemma answers),
each under pyinstrument (1 ms sampling, the main thread's wall time). Each sample is given to
the outermost docent stage on its stack (parsing, embedding, BM25, writing, indexing, the
manifest; classification, query embedding, retrieval, packing, generation, verification,
the audit log), and the table prints seconds and shares by stage. Parsing runs in worker
processes: the main thread's time "waiting for parsed files" is the parsing it could not
overlap with embedding. The full trees are written as text to --out.

Usage:
    .venv/bin/python bench/profiles.py [--data ../shared/data/fastapi_docs] [--files 60]
        [--questions 20] [--config FILE] [--out /tmp/docent-profile]
About 3 minutes with the defaults.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import SHARED_DATA
from pyinstrument import Profiler

import components  # noqa: F401  (offline defaults)
from pipelines.config import Settings, load_settings
from pipelines.query.pipeline import QAPipeline

# (stage, a piece of the file path, a function name or None): the outermost frame that
# matches one gets its time; the order breaks ties within one frame.
INGEST_STAGES = [
    ("waiting for parsed files (parser processes)", "ingest/parse_pool.py", None),
    ("parsing in this process", "ingest/parsing.py", None),
    ("building the vector index", "edge_document_store.py", "optimize"),
    ("dense embedding", "onnx_embedders.py", None),
    ("dense embedding", "sentence_transformers", None),
    ("sparse embedding (BM25)", "bm25", None),
    ("writing to the store", "edge_document_store.py", None),
    ("writing to the store", "document_stores/qdrant", None),
    ("manifest (SQLite)", "ingest/manifest.py", None),
]
QUERY_STAGES = [
    ("intent classification", "intent_classifier.py", None),
    ("query embedding (dense)", "onnx_embedders.py", None),
    ("query embedding (dense)", "sentence_transformers", None),
    ("query embedding (sparse)", "bm25_sparse_text_embedder.py", None),
    ("retrieval", "edge_retrievers.py", None),
    ("retrieval", "retrievers/qdrant", None),
    ("relevance filter", "relevance_filter.py", None),
    ("injection filter", "injection_filter.py", None),
    ("context packing", "context_packer.py", None),
    ("generation", "fallback_generator.py", None),
    ("verification", "support_verifier.py", None),
    ("citations", "cited_answer_builder.py", None),
    ("audit log", "audit_log.py", None),
]
QUESTIONS = [
    "How do I declare a path parameter with a type?",
    "How can I return a custom status code?",
    "How do I add CORS middleware?",
    "How do I declare a request body with Pydantic?",
    "How do I run tasks in the background after returning a response?",
    "How do I upload a file?",
    "How do I use dependencies with yield?",
    "How do I set a response cookie?",
    "How do I handle errors with HTTPException?",
    "How do I test a FastAPI application?",
]


def by_stage(profiler: Profiler, stages: list) -> dict[str, float]:
    """Seconds per stage: each frame's time goes to the first stage its outermost matching
    frame belongs to; the rest is "other"."""
    root = profiler.last_session.root_frame()
    totals: dict[str, float] = {}

    def walk(frame) -> None:
        for stage, path, function in stages:
            if path in (frame.file_path or "") and function in (None, frame.function):
                totals[stage] = totals.get(stage, 0.0) + frame.time
                return
        for child in frame.children:
            walk(child)

    walk(root)
    totals["other"] = root.time - sum(totals.values())
    return totals


def show(title: str, totals: dict[str, float], per: int) -> None:
    """Print seconds, per-item milliseconds and shares by stage."""
    whole = sum(totals.values())
    print(f"\n{title}: {whole:.2f} s in all")
    print(f"{'stage':<46} {'seconds':>8} {'ms each':>8} {'share':>6}")
    for stage, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"{stage:<46} {seconds:>8.2f} {1000 * seconds / per:>8.1f} {seconds / whole:>6.1%}")


def main() -> None:
    """Profile an ingest and a set of questions; print the tables and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "fastapi_docs")
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "docent-profile")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pages = sorted(args.data.rglob("*.md"))[: args.files]
    with tempfile.TemporaryDirectory() as folder:
        base = load_settings(args.config) if args.config else Settings()
        settings = base.model_copy(update={"data_dir": Path(folder)})
        corpus = Path(folder) / "pages"
        corpus.mkdir()
        for page in pages:
            (corpus / page.name).write_bytes(page.read_bytes())
        indexer = settings.open_indexer()
        indexer.warm_up()
        profiler = Profiler(interval=0.001)
        profiler.start()
        report = indexer.ingest([corpus])
        profiler.stop()
        indexer.close()
        (args.out / "ingest.txt").write_text(profiler.output_text(show_all=False))
        ingest = by_stage(profiler, INGEST_STAGES)
        show(f"ingest of {len(pages)} pages, {report.chunks_written} chunks", ingest, 1)

        qa = QAPipeline.from_settings(settings)
        qa.warm_up()
        qa.ask(QUESTIONS[0])  # the first call loads what warm_up leaves lazy
        asked = [QUESTIONS[i % len(QUESTIONS)] for i in range(args.questions)]
        profiler = Profiler(interval=0.001)
        started = time.perf_counter()
        profiler.start()
        for question in asked:
            qa.ask(question)
        profiler.stop()
        seconds = time.perf_counter() - started
        qa.close()
        (args.out / "query.txt").write_text(profiler.output_text(show_all=False))
        query = by_stage(profiler, QUERY_STAGES)
        show(f"{len(asked)} questions, {seconds / len(asked):.3f} s each", query, len(asked))
    print(f"\nfull profiles: {args.out}/ingest.txt, {args.out}/query.txt")
    print(
        json.dumps(
            {
                "chunks": report.chunks_written,
                "ingest_s": ingest,
                "questions": len(asked),
                "query_s": query,
            }
        )
    )


if __name__ == "__main__":
    main()
