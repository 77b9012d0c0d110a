"""The indexing pipeline: parse, chunk, embed (dense and sparse) and write, file by file.

The `Indexer` runs an ingest; the jobs it composes live beside it: which files to parse
(`ingest.source_policy`), the settings fingerprint (`ingest.fingerprint`), embedding and
writing (`ingest.chunk_writer`), the journal that settles interrupted runs
(`ingest.journal`) and the report (`ingest.report`).
"""

import hashlib
import itertools
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from haystack import logging

from components.errors import ConfigError
from components.shipped_models import embedding_dimension, embedding_model_path
from ingest.chunk_writer import ChunkWriter
from ingest.config import (
    ChunkingSettings,
    EmbeddingSettings,
    ParsingSettings,
    SparseSettings,
    StoreSettings,
)
from ingest.fingerprint import file_fingerprint, settings_fingerprint
from ingest.freshness import EMPTY_HASH
from ingest.journal import Journal
from ingest.manifest import Manifest
from ingest.parse_pool import ParsePool
from ingest.parsing import FileParser, Parsed
from ingest.ray_executor import RayParsePool
from ingest.report import FileResult, IngestReport, with_kept_chunks
from ingest.source_policy import Job, admit, check_metadata, gone_sources
from ingest.sources import find_sources
from ingest.store import Store, open_store

logger = logging.getLogger(__name__)


class Indexer:
    """Parses, chunks, embeds and writes files into a Qdrant collection, exactly once each.

    A manifest records, per source file, the hash of its bytes, the fingerprint of the settings
    that shaped its chunks and its chunk ids. A file whose bytes and settings are unchanged is
    skipped without parsing; a changed file's chunks are overwritten, then its chunks that no
    longer exist are deleted. Every change is journaled in the manifest before it touches the
    store, so a run killed at any point is settled by the next one (`recover`): the collection
    ends with exactly the current chunks and the manifest agrees with it.

    Parsing runs in worker processes (`parsing.workers`) with a time limit per file; embedding
    and writing run in this process, in batches of whole files, while the workers go on.

    Usage:
    ```python
    indexer = open_indexer(store=..., store_path=..., manifest_path=..., embedding=..., ...)
    report = indexer.ingest(["handbook/"], prune=True)
    indexer.close()
    ```
    """

    def __init__(
        self,
        *,
        store: Store,
        manifest: Manifest,
        embedding_model_path: str,
        embedding: EmbeddingSettings = EmbeddingSettings(),
        chunking: ChunkingSettings = ChunkingSettings(),
        parsing: ParsingSettings = ParsingSettings(),
        sparse: SparseSettings = SparseSettings(),
    ) -> None:
        """Create the indexer over an open store; models and workers start on the first file."""
        self.store = store
        self.manifest = manifest
        self.parsing = parsing
        self.fingerprint = settings_fingerprint(embedding, chunking, parsing, sparse)
        self.parse_file = FileParser(
            parsing=parsing, chunking=chunking, tokenizer=embedding_model_path
        )
        self._pool: ParsePool | RayParsePool | None = None
        self.journal = Journal(manifest, store)
        self._writer = ChunkWriter(
            self.journal,
            embedding_model_path=embedding_model_path,
            embedding=embedding,
            sparse=sparse,
        )

    def warm_up(self) -> None:
        """Load the embedding model now rather than with the first batch."""
        self._writer.warm_up()

    def close(self) -> None:
        """Stop the parser workers and release the store."""
        self.stop_workers()
        self.store.close()

    def stop_workers(self) -> None:
        """Stop the parser workers, leaving the store open (for an indexer over a store that
        something else owns, such as the service's pipeline)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def remove(self, sources: Iterable[str]) -> IngestReport:
        """Remove every chunk of the given sources (paths as recorded) and forget them; a
        source that is not recorded is reported as failed."""
        started = time.perf_counter()
        report = IngestReport()
        report.recovered = self.recover()
        stored = self.journal.stored_sources()
        wanted = list(dict.fromkeys(sources))
        for source in wanted:
            if source not in stored:
                report.files.append(FileResult(source, "failed", reason="not ingested"))
        self.journal.forget([stored[s] for s in wanted if s in stored], report, report.files.append)
        self._writer.build_indexes(report)
        report.seconds = time.perf_counter() - started
        return report

    def ingest(
        self,
        paths: Iterable[str | Path],
        on_file: Callable[[FileResult, int], None] | None = None,
        prune: bool = False,
        tenant: str | None = None,
        metadata: dict[str, Any] | None = None,
        take_over: bool = True,
        on_stage: Callable[[str, int], None] | None = None,
    ) -> IngestReport:
        """Ingest files and folders; a file that cannot be read is reported, the rest go on.

        :param paths: files and folders (searched recursively).
        :param on_file: called once per file with its result and the number of files in all,
            for progress displays; an ingested file is reported once its chunks are written.
        :param on_stage: called with "loading" before the embedding model loads and with
            "working" once it has (only when some file needs parsing), each time with the
            number of files in all: progress displays keep loading out of their rates.
        :param prune: also remove the chunks of files that were ingested from one of the given
            folders and are no longer in it (a folder that does not exist prunes nothing, so a
            mistyped or unmounted path never empties the collection).
        :param tenant: tag every chunk with this tenant; retrieval can be limited to it.
            Nothing in a file or its sidecar changes it: a sidecar that names another tenant
            fails its file.
        :param metadata: extra fields for every chunk's metadata; a sidecar file
            `<file>.meta.json` adds fields for one file, and may set its `tenant` when no
            `tenant` is given.
        :param take_over: whether a file recorded for another tenant (or for none) may move
            to `tenant`, as an operator re-tagging files may; a caller acting for one tenant
            (a service key) passes False, and such files fail instead.
        """
        check_metadata(metadata or {}, "metadata")
        if "tenant" in (metadata or {}):
            raise ConfigError("metadata: set the tenant with --tenant, not as a metadata field")
        started = time.perf_counter()
        report = IngestReport()
        report.recovered = self.recover()
        paths = list(paths)
        sources = find_sources(paths, self.parsing.follow_outside_links)
        total = len(sources.files) + len(sources.missing) + len(sources.refused)
        stored = self.journal.stored_sources()

        def done(result: FileResult) -> None:
            report.files.append(with_kept_chunks(result, stored.get(result.source)))
            if on_file:
                on_file(result, total)

        for missing in sources.missing:
            source = str(missing.resolve())
            done(
                FileResult(
                    source if source in stored else str(missing),
                    "failed",
                    reason="no such file or folder",
                    name=str(missing),
                )
            )
        for path, (name, reason) in sources.refused.items():
            done(FileResult(str(path), "failed", reason=reason, name=name))
        todo: dict[str, Job] = {}
        emptied: list[Parsed] = []
        for path in sources.files:
            previous = stored.get(str(path))
            name = sources.names[path]
            if path in sources.given and previous is not None and previous.name:
                # A file named directly keeps the name its folder gave it.
                name = previous.name
            job = admit(
                path,
                name,
                previous,
                fingerprint=self.fingerprint,
                max_file_mb=self.parsing.max_file_mb,
                tenant=tenant,
                take_over=take_over,
                metadata=metadata or {},
            )
            if isinstance(job, FileResult):
                done(job)
            elif job.file_hash == EMPTY_HASH and previous is not None and previous.chunk_ids:
                # Emptying a file is an edit: it is recorded with no chunks, its old ones go.
                emptied.append(Parsed(str(path), converter="empty"))
                todo[str(path)] = job
            else:
                todo[str(path)] = job
        to_parse = [source for source in todo if source not in {p.source for p in emptied}]
        if todo:
            if on_stage:
                on_stage("loading", total)
            self.warm_up()
            if on_stage:
                on_stage("working", total)
        parsed = itertools.chain(emptied, self._parse(to_parse))
        self._writer.write(todo, parsed, stored, report, done)
        gone = gone_sources(paths, sources.files, stored)
        if prune:
            self.journal.forget(gone, report, done)
        else:
            report.files.extend(
                FileResult(
                    state.source,
                    "gone",
                    name=state.display_name,
                    kept=len(state.chunk_ids),
                    reason="deleted from disk, but its chunks are still served: ingest its "
                    "folder with --prune to remove them",
                )
                for state in gone
            )
        self._writer.build_indexes(report)
        report.files.sort(key=lambda f: f.source)
        report.seconds = time.perf_counter() - started
        return report

    def ingest_records(
        self,
        records: Iterable[tuple[str, str, str]],
        namespace: str,
        on_file: Callable[[FileResult, int], None] | None = None,
        tenant: str | None = None,
    ) -> IngestReport:
        """Ingest records that are text already, `(id, title, text)`, e.g. a JSON Lines corpus.

        Each record is chunked under its title like a one-section file, recorded in the
        manifest as `<namespace>:<id>` with the hash of its title and text, and skipped when
        unchanged, exactly like a file.
        """
        started = time.perf_counter()
        report = IngestReport()
        report.recovered = self.recover()
        records = list(records)

        def done(result: FileResult) -> None:
            report.files.append(result)
            if on_file:
                on_file(result, len(records))

        stored = self.journal.stored_sources()
        todo: dict[str, Job] = {}
        texts: dict[str, tuple[str, str]] = {}
        for record_id, title, text in records:
            source = f"{namespace}:{record_id}"
            content_hash = hashlib.sha256(f"{title}\x00{text}".encode()).hexdigest()
            fingerprint = file_fingerprint(self.fingerprint, tenant, {}, source)
            previous = stored.get(source)
            if previous and previous.matches(content_hash, fingerprint):
                done(FileResult(source, "unchanged", chunks=len(previous.chunk_ids), name=source))
                continue
            todo[source] = Job(Path(source), source, content_hash, fingerprint, tenant, {})
            texts[source] = (title, text)
        parsed = (
            self.parse_file.parse_text(source, title, text)
            for source, (title, text) in texts.items()
        )
        self._writer.write(todo, parsed, stored, report, done)
        self._writer.build_indexes(report)
        report.files.sort(key=lambda f: f.source)
        report.seconds = time.perf_counter() - started
        return report

    def recover(self) -> int:
        """Settle the changes that an interrupted run began; returns how many there were (see
        `Journal.recover`)."""
        return self.journal.recover()

    def audit(self) -> dict[str, list[str]]:
        """Compare the manifest with the store: chunk ids `missing` from the store, chunk ids
        in the store that no source accounts for (`orphaned`), and `pending` changes."""
        return self.journal.audit()

    def _parse(self, paths: list[str]) -> Iterator[Parsed]:
        if not paths:
            return
        if self._pool is None:
            workers = self.parsing.workers or os.cpu_count() or 1
            if self.parsing.executor == "ray":
                self._pool = RayParsePool(
                    self.parse_file,
                    workers=workers,
                    timeout=self.parsing.file_timeout,
                    address=self.parsing.ray_address,
                    memory_mb=self.parsing.max_worker_mb,
                )
            else:
                self._pool = ParsePool(
                    self.parse_file,
                    workers=min(workers, len(paths)),
                    timeout=self.parsing.file_timeout,
                    memory_mb=self.parsing.max_worker_mb,
                )
        logger.info(
            "Parsing {files} files in {workers} {executor} workers",
            files=len(paths),
            workers=self._pool.workers,
            executor=self.parsing.executor,
        )
        yield from self._pool.parse(Path(p) for p in paths)


def open_indexer(
    *,
    store: StoreSettings,
    store_path: Path,
    manifest_path: Path,
    embedding: EmbeddingSettings,
    chunking: ChunkingSettings,
    parsing: ParsingSettings,
    sparse: SparseSettings,
    rebuild: bool = False,
    opened: Store | None = None,
) -> Indexer:
    """Open the configured store and its manifest and build an `Indexer`; `close()` it after.

    :param rebuild: empty the collection and forget its manifest first, so that everything
        ingested next is embedded with the configured model (after changing the model).
    :param opened: a store already open on the configured collection (owned by the
        caller, such as the service's pipeline: an embedded store admits one client); then
        `stop_workers()` the indexer instead of closing it.

    Raises:
        StoreError: the store cannot be opened, or the collection holds another model's vectors.
    """
    model_path = embedding_model_path(embedding.model)
    dimension = embedding_dimension(model_path)
    manifest = Manifest(manifest_path, store.collection)
    if rebuild and opened is not None:
        raise ValueError("a rebuild recreates the collection: it cannot use an open store")
    if rebuild:
        # The collection is emptied before the manifest forgets it: a run killed in between
        # still refuses the old model, and the rebuild is simply run again.
        open_store(store, store_path, dimension, recreate=True).close()
        manifest.drop()
    manifest.bind_model(embedding.model, dimension)
    return Indexer(
        store=opened if opened is not None else open_store(store, store_path, dimension),
        manifest=manifest,
        embedding_model_path=model_path,
        embedding=embedding,
        chunking=chunking,
        parsing=parsing,
        sparse=sparse,
    )
