"""The indexing pipeline: parse, chunk, embed (dense and sparse) and write, file by file."""

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from haystack import Document, Pipeline
from haystack.components.writers import DocumentWriter
from haystack.document_stores.types import DuplicatePolicy
from haystack_integrations.components.embedders.sentence_transformers import (
    SentenceTransformersDocumentEmbedder,
)
from haystack_integrations.document_stores.qdrant import QdrantDocumentStore

from components.chunking.structure_chunker import StructureChunker
from components.converters.unstructured_converter import UnstructuredConverter
from components.embedding.bm25_sparse_document_embedder import Bm25SparseDocumentEmbedder
from components.shipped_models import embedding_dimension, embedding_model_path
from ingest.config import (
    ChunkingSettings,
    EmbeddingSettings,
    ParsingSettings,
    SparseSettings,
    StoreSettings,
)
from ingest.sources import find_sources
from ingest.store import open_store

# The metadata fields embedded with each chunk's text: its title path helps both retrievers.
EMBEDDED_META = ["section"]
# Bump whenever a change to the converter or chunker changes the chunks of an unchanged file:
# it is part of every chunk's settings fingerprint, so the next ingest redoes those files.
PIPELINE_VERSION = 2
# Chunks are embedded and written in batches of about this many, whole files at a time.
WRITE_BATCH_CHUNKS = 256


@dataclass
class FileResult:
    """What happened to one file."""

    source: str
    status: str  # "ingested", "unchanged", "failed" or "removed" (pruned)
    chunks: int = 0
    reason: str = ""


@dataclass
class IngestReport:
    """The summary of one ingest run."""

    files: list[FileResult] = field(default_factory=list)
    chunks_written: int = 0
    chunks_removed: int = 0
    seconds: float = 0.0

    def count(self, status: str) -> int:
        """How many files ended with `status`."""
        return sum(1 for f in self.files if f.status == status)

    @property
    def failures(self) -> list[FileResult]:
        """The files that could not be ingested."""
        return [f for f in self.files if f.status == "failed"]

    def to_dict(self) -> dict:
        """A JSON-ready summary."""
        return {
            "ingested": self.count("ingested"),
            "unchanged": self.count("unchanged"),
            "failed": self.count("failed"),
            "removed": self.count("removed"),
            "chunks_written": self.chunks_written,
            "chunks_removed": self.chunks_removed,
            "seconds": round(self.seconds, 2),
            "chunks_per_second": round(self.chunks_written / self.seconds, 1)
            if self.seconds
            else 0,
            "failures": [{"source": f.source, "reason": f.reason} for f in self.failures],
        }


@dataclass(frozen=True)
class _StoredSource:
    file_hash: str
    fingerprint: str
    expected_chunks: int
    ids: frozenset[str]

    def complete(self, file_hash: str, fingerprint: str) -> bool:
        """True when the stored chunks are all there and came from these bytes and settings."""
        return (
            self.file_hash == file_hash
            and self.fingerprint == fingerprint
            and self.expected_chunks == len(self.ids)
        )


class Indexer:
    """Parses, chunks, embeds and writes files into a Qdrant collection.

    Ingesting is idempotent: chunk ids derive from the file and its content, a file whose bytes
    and settings are unchanged is skipped, and a changed file's chunks are overwritten, then its
    chunks that no longer exist are deleted, so the collection holds exactly the current chunks.

    Usage:
    ```python
    indexer = Indexer(store=store, embedding_model_path=path)
    report = indexer.ingest(["handbook/"])
    ```
    """

    def __init__(
        self,
        *,
        store: QdrantDocumentStore,
        embedding_model_path: str,
        embedding: EmbeddingSettings = EmbeddingSettings(),
        chunking: ChunkingSettings = ChunkingSettings(),
        parsing: ParsingSettings = ParsingSettings(),
        sparse: SparseSettings = SparseSettings(),
    ) -> None:
        """Create the indexer; models load on the first file."""
        self.store = store
        self.fingerprint = _fingerprint(embedding, chunking, parsing, sparse)
        self._parse = Pipeline()
        self._parse.add_component(
            "converter",
            UnstructuredConverter(pdf_strategy=parsing.pdf_strategy, languages=parsing.languages),
        )
        self._parse.add_component(
            "chunker",
            StructureChunker(
                tokenizer=embedding_model_path,
                max_tokens=chunking.max_tokens,
                overlap_tokens=chunking.overlap_tokens,
            ),
        )
        self._parse.connect("converter.documents", "chunker.documents")
        self._write = Pipeline()
        self._write.add_component(
            "dense",
            SentenceTransformersDocumentEmbedder(
                model=embedding_model_path,
                batch_size=embedding.batch_size,
                progress_bar=False,
                normalize_embeddings=True,
                meta_fields_to_embed=EMBEDDED_META,
                local_files_only=True,
            ),
        )
        self._write.add_component(
            "sparse",
            Bm25SparseDocumentEmbedder(
                language=sparse.language,
                k1=sparse.k1,
                b=sparse.b,
                avg_doc_tokens=sparse.avg_doc_tokens,
                meta_fields_to_embed=EMBEDDED_META,
            ),
        )
        self._write.add_component("writer", DocumentWriter(store, policy=DuplicatePolicy.OVERWRITE))
        self._write.connect("dense.documents", "sparse.documents")
        self._write.connect("sparse.documents", "writer.documents")

    def ingest(
        self,
        paths: Iterable[str | Path],
        on_file: Callable[[FileResult, int], None] | None = None,
        prune: bool = False,
    ) -> IngestReport:
        """Ingest files and folders; a file that cannot be read is reported, the rest go on.

        :param paths: files and folders (searched recursively).
        :param on_file: called after each file with its result and the number of files in all,
            for progress displays.
        :param prune: also remove the chunks of files that were ingested from one of the given
            folders and are no longer in it (a folder that does not exist prunes nothing, so a
            mistyped or unmounted path never empties the collection).
        """
        started = time.perf_counter()
        report = IngestReport()
        paths = list(paths)
        sources = find_sources(paths)
        for missing in sources.missing:
            report.files.append(FileResult(str(missing), "failed", reason="no such file or folder"))
        stored = self._stored_sources()
        pending: list[tuple[FileResult, list[Document], frozenset[str]]] = []
        for path in sources.files:
            result, chunks = self._prepare(path, stored.get(str(path)))
            report.files.append(result)
            if chunks:
                previous = stored[str(path)].ids if str(path) in stored else frozenset()
                pending.append((result, chunks, previous))
            if sum(len(c) for _, c, _ in pending) >= WRITE_BATCH_CHUNKS:
                self._flush(pending, report)
                pending = []
            if on_file:
                on_file(result, len(sources.files))
        self._flush(pending, report)
        if prune:
            self._prune(paths, sources.files, stored, report)
        report.seconds = time.perf_counter() - started
        return report

    def _prune(
        self,
        paths: list[str | Path],
        found: list[Path],
        stored: dict[str, "_StoredSource"],
        report: IngestReport,
    ) -> None:
        """Delete the chunks of sources under the given folders that are gone from them."""
        roots = [Path(p).expanduser().resolve() for p in paths if Path(p).expanduser().is_dir()]
        present = {str(path) for path in found}
        for source, state in sorted(stored.items()):
            if source in present or not any(Path(source).is_relative_to(r) for r in roots):
                continue
            self.store.delete_documents(list(state.ids))
            report.chunks_removed += len(state.ids)
            report.files.append(FileResult(source, "removed", chunks=len(state.ids)))

    def _prepare(
        self, path: Path, stored: _StoredSource | None
    ) -> tuple[FileResult, list[Document]]:
        """Parse and chunk one file, unless it is unchanged since it was last ingested."""
        try:
            file_hash = _file_hash(path)
        except OSError as e:
            return FileResult(str(path), "failed", reason=f"cannot be read: {e.strerror}"), []
        if stored and stored.complete(file_hash, self.fingerprint):
            return FileResult(str(path), "unchanged", chunks=len(stored.ids)), []
        output = self._parse.run(
            {"converter": {"sources": [path]}}, include_outputs_from={"converter"}
        )
        failures = output["converter"]["failures"]
        if failures:
            return FileResult(str(path), "failed", reason=failures[0]["reason"]), []
        parsed = output["chunker"]["documents"]
        if not parsed:
            return FileResult(
                str(path),
                "failed",
                reason="no text left after removing page headers, footers and numbers",
            ), []
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        chunks = [
            replace(
                c,
                meta={
                    **c.meta,
                    "file_name": path.name,
                    "file_hash": file_hash,
                    "fingerprint": self.fingerprint,
                    "chunks_in_file": len(parsed),
                    "ingested_at": now,
                },
            )
            for c in parsed
        ]
        return FileResult(str(path), "ingested", chunks=len(chunks)), chunks

    def _flush(
        self,
        pending: list[tuple[FileResult, list[Document], frozenset[str]]],
        report: IngestReport,
    ) -> None:
        """Embed and write whole files, then delete their chunks that no longer exist."""
        if not pending:
            return
        chunks = [c for _, file_chunks, _ in pending for c in file_chunks]
        self._write.run({"dense": {"documents": chunks}})
        report.chunks_written += len(chunks)
        stale = [
            old_id
            for _, file_chunks, previous in pending
            for old_id in previous - {c.id for c in file_chunks}
        ]
        if stale:
            self.store.delete_documents(stale)
            report.chunks_removed += len(stale)

    def _stored_sources(self) -> dict[str, _StoredSource]:
        """What the collection holds per source file: its hash, settings and chunk ids."""
        ids: dict[str, set[str]] = {}
        state: dict[str, tuple[str, str, int]] = {}
        for document in self.store.filter_documents():
            meta = document.meta
            source = meta.get("source", "")
            ids.setdefault(source, set()).add(document.id)
            state[source] = (
                meta.get("file_hash", ""),
                meta.get("fingerprint", ""),
                meta.get("chunks_in_file", -1),
            )
        return {s: _StoredSource(*state[s], frozenset(ids[s])) for s in ids}


def open_indexer(
    *,
    store: StoreSettings,
    store_path: Path,
    embedding: EmbeddingSettings,
    chunking: ChunkingSettings,
    parsing: ParsingSettings,
    sparse: SparseSettings,
) -> Indexer:
    """Open the configured store and build an `Indexer` over it; close `indexer.store` after."""
    model_path = embedding_model_path(embedding.model)
    return Indexer(
        store=open_store(store, store_path, embedding_dimension(model_path)),
        embedding_model_path=model_path,
        embedding=embedding,
        chunking=chunking,
        parsing=parsing,
        sparse=sparse,
    )


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fingerprint(*sections) -> str:
    """A short hash of everything that shapes the chunks and their vectors."""
    settings = {type(s).__name__: s.model_dump() for s in sections}
    settings["unstructured"] = version("unstructured")
    settings["docent_pipeline"] = PIPELINE_VERSION
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
