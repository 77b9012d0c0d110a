"""Embed parsed files and write their chunks, in batches of whole files, journaled."""

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timezone

from haystack import Pipeline, logging
from haystack.components.writers import DocumentWriter
from haystack.document_stores.types import DuplicatePolicy

from components.embedding.backends import document_embedder
from components.embedding.bm25_sparse_document_embedder import Bm25SparseDocumentEmbedder
from components.stores.edge_document_store import EdgeDocumentStore
from ingest.config import EmbeddingSettings, SparseSettings
from ingest.journal import Journal
from ingest.manifest import SourceState
from ingest.parsing import Parsed
from ingest.report import FileResult, IngestReport
from ingest.source_policy import Job

logger = logging.getLogger(__name__)

# The metadata fields embedded with each chunk's text: its title path helps both retrievers.
EMBEDDED_META = ["section"]
# The size of the first write batch, in chunks (see `ChunkWriter.write`).
FIRST_BATCH_CHUNKS = 64


class ChunkWriter:
    """Embeds chunks dense and sparse and writes them to the store, whole files at a time.

    Each batch is begun in the manifest before it touches the store, the files' stale chunks
    are deleted after their new ones are written, and the batch is committed last (see
    `ingest.journal`).

    Usage:
    ```python
    writer = ChunkWriter(journal, embedding_model_path=path)
    writer.write(jobs, parsed_files, stored, report, done)
    ```
    """

    def __init__(
        self,
        journal: Journal,
        *,
        embedding_model_path: str,
        embedding: EmbeddingSettings = EmbeddingSettings(),
        sparse: SparseSettings = SparseSettings(),
    ) -> None:
        """Create the writer; the embedding model loads on `warm_up` or the first batch."""
        self.journal = journal
        self.write_batch = embedding.write_batch
        self._embed = Pipeline()
        self._embed.add_component(
            "dense",
            document_embedder(
                embedding_model_path,
                embedding.backend,
                batch_size=embedding.batch_size,
                meta_fields_to_embed=EMBEDDED_META,
            ),
        )
        self._embed.add_component(
            "sparse",
            Bm25SparseDocumentEmbedder(
                language=sparse.language,
                k1=sparse.k1,
                b=sparse.b,
                avg_doc_tokens=sparse.avg_doc_tokens,
                meta_fields_to_embed=EMBEDDED_META,
            ),
        )
        self._embed.connect("dense.documents", "sparse.documents")
        self._writer = DocumentWriter(journal.store, policy=DuplicatePolicy.OVERWRITE)

    def warm_up(self) -> None:
        """Load the embedding model now rather than with the first batch."""
        self._embed.warm_up()

    def write(
        self,
        jobs: dict[str, Job],
        parsed_files: Iterable[Parsed],
        stored: dict[str, SourceState],
        report: IngestReport,
        done: Callable[[FileResult], None],
    ) -> None:
        """Embed and write parsed files as they come, in growing batches of whole files.

        :param jobs: each file's job, by source.
        :param stored: what the manifest records, by source; updated as files are written.
        :param done: called with each file's result once its chunks are written.
        """
        batch: list[tuple[Job, Parsed]] = []
        # The first batches are small so that embedding starts while the workers are still
        # parsing; they double up to `write_batch`.
        threshold = min(self.write_batch, FIRST_BATCH_CHUNKS)
        for parsed in parsed_files:
            job = jobs[parsed.source]
            if parsed.reason:
                done(FileResult(parsed.source, "failed", reason=parsed.reason, name=job.name))
                continue
            batch.append((job, parsed))
            if sum(len(p.chunks) for _, p in batch) >= threshold:
                self._flush(batch, stored, report, done)
                batch = []
                threshold = min(self.write_batch, threshold * 2)
        self._flush(batch, stored, report, done)

    def build_indexes(self, report: IngestReport) -> None:
        """Index what the run wrote (the edge store's HNSW graph), so that the first query
        does not search new chunks one by one; timed in the report."""
        store = self.journal.store
        if not isinstance(store, EdgeDocumentStore) or not (
            report.chunks_written or report.chunks_removed
        ):
            return
        started = time.perf_counter()
        logger.info("Indexing the vectors of {n} chunks", n=report.chunks_written)
        store.optimize()
        report.index_seconds = time.perf_counter() - started

    def _flush(
        self,
        batch: list[tuple[Job, Parsed]],
        stored: dict[str, SourceState],
        report: IngestReport,
        done: Callable[[FileResult], None],
    ) -> None:
        """Journal, embed and write whole files, delete their stale chunks, then record them."""
        if not batch:
            return
        manifest = self.journal.manifest
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        changes, chunks = [], []
        for job, parsed in batch:
            file_chunks = [
                replace(
                    c,
                    meta={
                        **job.extra,
                        **c.meta,
                        **job.meta(len(parsed.chunks), now),
                        "converter": parsed.converter,
                    },
                )
                for c in parsed.chunks
            ]
            for c in file_chunks:
                # The tenant is docent's to set: never taken from what a file's parse found.
                c.meta.pop("tenant", None)
                if job.tenant is not None:
                    c.meta["tenant"] = job.tenant
            chunks.extend(file_chunks)
            changes.append(
                SourceState(
                    str(job.path),
                    job.file_hash,
                    job.fingerprint,
                    frozenset(c.id for c in file_chunks),
                    parsed.converter,
                    job.tenant,
                    job.name,
                )
            )
        manifest.begin(changes)
        logger.info(
            "Embedding {chunks} chunks of {files} files", chunks=len(chunks), files=len(batch)
        )
        if chunks:  # a batch of emptied files has none
            embedded = self._embed.run({"dense": {"documents": chunks}})["sparse"]["documents"]
            logger.info("Writing {chunks} chunks", chunks=len(chunks))
            self._writer.run(documents=embedded)
        for change in changes:
            previous = stored.get(change.source)
            if previous:
                report.chunks_removed += self.journal.delete(previous.chunk_ids - change.chunk_ids)
        manifest.commit(c.source for c in changes)
        logger.info("Recorded {files} files in the manifest", files=len(changes))
        report.chunks_written += len(chunks)
        for change in changes:
            previous = stored.get(change.source)
            stored[change.source] = change
            if change.chunk_ids or previous is None or not previous.chunk_ids:
                result = FileResult(
                    change.source, "ingested", chunks=len(change.chunk_ids), name=change.name
                )
            else:
                result = FileResult(
                    change.source,
                    "emptied",
                    name=change.name,
                    reason=f"the file is empty now: its {len(previous.chunk_ids)} chunks were "
                    "removed",
                )
            done(result)
