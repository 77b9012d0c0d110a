"""docent's ingest against a stock Haystack indexing pipeline, side by side in one run.

The stock pipeline is what a Haystack user would build from the same parts: docent's
converter and chunker, the same MiniLM model in Haystack's sentence-transformers document
embedder, the same sparse embedder and a DocumentWriter into the same embedded store (the
default kind, same collection settings), run over the list of files in one `Pipeline.run`.
docent's ingest adds a parser pool overlapped with embedding, its embedding backend (the
default settings' backend: see EmbeddingSettings), batched writes, the manifest and its
journal. Both start with models loaded and an empty store in a fresh folder; each backend's
encode-only rate on the same chunks is the ceiling it can approach. Then docent re-ingests
the unchanged folder.

Printed: files/s, chunks/s, seconds; docent / stock; re-ingest / first ingest; both as ratios.

Usage:
    .venv/bin/python bench/ingest_throughput.py [FOLDER ...] [--max-file-mb MB]
(default: ../shared/data/fastapi_docs and ../shared/data/example_docs; files above
--max-file-mb, default 1, are left out of both runs so that the run takes minutes)
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import encode_only

import components  # noqa: F401  (offline defaults)
from components.chunking.structure_chunker import StructureChunker
from components.converters.unstructured_converter import UnstructuredConverter
from components.embedding.bm25_sparse_document_embedder import Bm25SparseDocumentEmbedder
from components.shipped_models import embedding_dimension, embedding_model_path
from ingest.chunk_writer import EMBEDDED_META
from ingest.sources import find_sources
from ingest.store import open_store
from pipelines.config import Settings

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def stock_pipeline(settings: Settings, store):
    """The Haystack pipeline a user would assemble from the same components."""
    from haystack import Pipeline
    from haystack.components.writers import DocumentWriter
    from haystack.document_stores.types import DuplicatePolicy
    from haystack_integrations.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder,
    )

    model = embedding_model_path(settings.embedding.model)
    pipeline = Pipeline()
    pipeline.add_component("converter", UnstructuredConverter())
    pipeline.add_component(
        "chunker",
        StructureChunker(
            tokenizer=model,
            max_tokens=settings.chunking.max_tokens,
            overlap_tokens=settings.chunking.overlap_tokens,
        ),
    )
    pipeline.add_component(
        "dense",
        SentenceTransformersDocumentEmbedder(
            model=model,
            batch_size=settings.embedding.batch_size,
            progress_bar=False,
            normalize_embeddings=True,
            meta_fields_to_embed=EMBEDDED_META,
            local_files_only=True,
        ),
    )
    pipeline.add_component("sparse", Bm25SparseDocumentEmbedder(meta_fields_to_embed=EMBEDDED_META))
    pipeline.add_component("writer", DocumentWriter(store, policy=DuplicatePolicy.OVERWRITE))
    pipeline.connect("converter.documents", "chunker.documents")
    pipeline.connect("chunker.documents", "dense.documents")
    pipeline.connect("dense.documents", "sparse.documents")
    pipeline.connect("sparse.documents", "writer.documents")
    return pipeline


def run_stock(settings: Settings, files: list[Path]) -> tuple[float, int]:
    dimension = embedding_dimension(embedding_model_path(settings.embedding.model))
    store = open_store(settings.store, settings.store_path, dimension)
    pipeline = stock_pipeline(settings, store)
    pipeline.warm_up()
    started = time.perf_counter()
    pipeline.run({"converter": {"sources": files}})
    seconds = time.perf_counter() - started
    chunks = store.count_documents()
    store.close()
    return seconds, chunks


def bench(folder: Path, max_file_mb: float) -> None:
    files = [p for p in find_sources([folder]).files if p.stat().st_size <= max_file_mb * 1e6]
    left_out = len(find_sources([folder]).files) - len(files)
    work = Path(tempfile.mkdtemp(prefix="docent-throughput-"))
    # Both see the same files: the folder's files up to the size limit, by symlink.
    corpus = work / "corpus"
    for n, path in enumerate(files):
        link = corpus / f"{n:04d}-{path.name}"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path)
    print(f"\n== {folder}: {len(files)} files (left out above {max_file_mb:g} MB: {left_out})")

    stock_settings = Settings(data_dir=work / "stock")
    stock_seconds, stock_chunks = run_stock(stock_settings, sorted(corpus.iterdir()))

    settings = Settings(data_dir=work / "docent")
    indexer = settings.open_indexer()
    indexer.warm_up()
    first = indexer.ingest([corpus])
    second = indexer.ingest([corpus])
    texts = [f"{d.meta.get('section', '')}\n{d.content}" for d in indexer.store.filter_documents()]
    indexer.close()
    ceiling, _ = encode_only(settings, texts)
    stock_ceiling, _ = encode_only(Settings(embedding={"backend": "torch"}), texts)

    def line(name: str, seconds: float, chunks: int) -> None:
        print(
            f"  {name:24} {seconds:7.1f} s  {len(files) / seconds:6.2f} files/s  "
            f"{chunks / seconds:6.1f} chunks/s  ({chunks} chunks)"
        )

    line("stock Haystack pipeline", stock_seconds, stock_chunks)
    line("docent ingest", first.seconds, first.chunks_written)
    print(f"  docent failed files: {first.count('failed')} (stock: silently skipped)")
    backend = settings.embedding.backend
    print(
        f"  encode-only ceiling      {ceiling:6.1f} chunks/s ({backend}; torch {stock_ceiling:.1f})"
    )
    print(f"  docent / stock (time):   {stock_seconds / first.seconds:.2f}x")
    print(f"  docent / encode-only:    {first.chunks_written / first.seconds / ceiling:.2f}")
    print(
        f"  re-ingest unchanged:     {second.seconds:.2f} s, {second.count('unchanged')} "
        f"unchanged, {second.chunks_written} written; first / re-ingest = "
        f"{first.seconds / second.seconds:.0f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*")
    parser.add_argument("--max-file-mb", type=float, default=1.0)
    args = parser.parse_args()
    folders = [Path(f) for f in args.folders] or [DATA / "fastapi_docs", DATA / "example_docs"]
    for folder in folders:
        if not folder.is_dir():
            sys.exit(f"{folder} is not a folder")
    for folder in folders:
        bench(folder, args.max_file_mb)


if __name__ == "__main__":
    main()
