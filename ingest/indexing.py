"""The indexing pipeline: parse, chunk, embed (dense and sparse) and write, file by file."""

import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

from haystack import Pipeline, logging
from haystack.components.writers import DocumentWriter
from haystack.document_stores.types import DuplicatePolicy

from components.embedding.bm25_sparse_document_embedder import Bm25SparseDocumentEmbedder
from components.embedding.onnx_embedders import OnnxDocumentEmbedder
from components.errors import ConfigError, UnreadableFileError
from components.shipped_models import embedding_dimension, embedding_model_path, model_cache
from components.stores.edge_document_store import EdgeDocumentStore
from ingest.config import (
    ChunkingSettings,
    EmbeddingSettings,
    ParsingSettings,
    SparseSettings,
    StoreSettings,
)
from ingest.freshness import EMPTY_HASH, hash_file
from ingest.manifest import Manifest, SourceState
from ingest.parse_pool import ParsePool
from ingest.parsing import FileParser, Parsed
from ingest.ray_executor import RayParsePool
from ingest.sources import SIDECAR_SUFFIX, find_sources
from ingest.store import Store, open_store

logger = logging.getLogger(__name__)

# The metadata fields embedded with each chunk's text: its title path helps both retrievers.
EMBEDDED_META = ["section"]
# Bump whenever a change to the converter or chunker changes the chunks of an unchanged file:
# it is part of every chunk's settings fingerprint, so the next ingest redoes those files.
PIPELINE_VERSION = 4  # 4: Markdown, HTML, RST and plain text read by their markup
# The size of the first write batch, in chunks (see `Indexer.ingest`).
FIRST_BATCH_CHUNKS = 64
# Metadata fields that docent sets on every chunk; user metadata may not override them.
RESERVED_META = frozenset(
    "source source_name file_type file_name file_hash fingerprint chunks_in_file ingested_at "
    "section chunk_index tokens content_hash page converter".split()
)


@dataclass
class FileResult:
    """What happened to one file."""

    source: str
    # "ingested", "unchanged", "failed", "removed" (pruned), "emptied" (the file is empty now:
    # its earlier chunks were removed) or "gone" (deleted from disk, not pruned: still served)
    status: str
    chunks: int = 0
    reason: str = ""
    name: str = ""  # the source's name for people (see `ingest.sources.Sources`)
    kept: int = 0  # chunks of an earlier version still served (a failed or gone file)


@dataclass
class IngestReport:
    """The summary of one ingest run."""

    files: list[FileResult] = field(default_factory=list)
    chunks_written: int = 0
    chunks_removed: int = 0
    recovered: int = 0  # changes left by an interrupted run, settled first
    seconds: float = 0.0
    index_seconds: float = 0.0  # building the vector index after writing

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
            "emptied": self.count("emptied"),
            "gone": self.count("gone"),
            "chunks_written": self.chunks_written,
            "chunks_removed": self.chunks_removed,
            "recovered": self.recovered,
            "seconds": round(self.seconds, 2),
            "index_seconds": round(self.index_seconds, 2),
            "chunks_per_second": round(self.chunks_written / self.seconds, 1)
            if self.seconds
            else 0,
            # `source` is the name that citations and `docent sources` show; `path` the file.
            "failures": [
                {"source": f.name or f.source, "path": f.source, "reason": f.reason, "kept": f.kept}
                for f in self.failures
            ],
            "gone_files": [
                {"source": f.source, "name": f.name, "reason": f.reason, "kept": f.kept}
                for f in self.files
                if f.status == "gone"
            ],
        }


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
        self.fingerprint = _fingerprint(embedding, chunking, parsing, sparse)
        self.parse_file = FileParser(
            parsing=parsing, chunking=chunking, tokenizer=embedding_model_path
        )
        self._pool: ParsePool | RayParsePool | None = None
        self._embed = Pipeline()
        self._embed.add_component("dense", _dense_embedder(embedding, embedding_model_path))
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
        self._writer = DocumentWriter(store, policy=DuplicatePolicy.OVERWRITE)
        self.write_batch = embedding.write_batch

    def warm_up(self) -> None:
        """Load the embedding model now rather than with the first batch."""
        self._embed.warm_up()

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
        stored = self._stored_sources()
        wanted = list(dict.fromkeys(sources))
        for source in wanted:
            if source not in stored:
                report.files.append(FileResult(source, "failed", reason="not ingested"))
        self._forget([stored[s] for s in wanted if s in stored], report, report.files.append)
        self._build_indexes(report)
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
        _check_metadata(metadata or {}, "metadata")
        if "tenant" in (metadata or {}):
            raise ConfigError("metadata: set the tenant with --tenant, not as a metadata field")
        started = time.perf_counter()
        report = IngestReport()
        report.recovered = self.recover()
        paths = list(paths)
        sources = find_sources(paths, self.parsing.follow_outside_links)
        total = len(sources.files) + len(sources.missing) + len(sources.refused)
        stored = self._stored_sources()

        def done(result: FileResult) -> None:
            report.files.append(_with_kept_chunks(result, stored.get(result.source)))
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
        todo: dict[str, _Job] = {}
        emptied: list[Parsed] = []
        for path in sources.files:
            previous = stored.get(str(path))
            name = sources.names[path]
            if path in sources.given and previous is not None and previous.name:
                # A file named directly keeps the name its folder gave it.
                name = previous.name
            job = self._job(path, name, previous, tenant, take_over, metadata or {})
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
        self._write_parsed(todo, parsed, stored, report, done)
        gone = self._gone(paths, sources.files, stored)
        if prune:
            self._forget(gone, report, done)
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
        self._build_indexes(report)
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

        stored = self._stored_sources()
        todo: dict[str, _Job] = {}
        texts: dict[str, tuple[str, str]] = {}
        for record_id, title, text in records:
            source = f"{namespace}:{record_id}"
            content_hash = hashlib.sha256(f"{title}\x00{text}".encode()).hexdigest()
            fingerprint = _file_fingerprint(self.fingerprint, tenant, {}, source)
            previous = stored.get(source)
            if previous and previous.matches(content_hash, fingerprint):
                done(FileResult(source, "unchanged", chunks=len(previous.chunk_ids), name=source))
                continue
            todo[source] = _Job(Path(source), source, content_hash, fingerprint, tenant, {})
            texts[source] = (title, text)
        parsed = (
            self.parse_file.parse_text(source, title, text)
            for source, (title, text) in texts.items()
        )
        self._write_parsed(todo, parsed, stored, report, done)
        self._build_indexes(report)
        report.files.sort(key=lambda f: f.source)
        report.seconds = time.perf_counter() - started
        return report

    def _write_parsed(
        self,
        todo: dict[str, "_Job"],
        parsed_files: Iterable[Parsed],
        stored: dict[str, SourceState],
        report: IngestReport,
        done: Callable[[FileResult], None],
    ) -> None:
        """Embed and write parsed files as they come, in growing batches of whole files."""
        batch: list[tuple[_Job, Parsed]] = []
        # The first batches are small so that embedding starts while the workers are still
        # parsing; they double up to `write_batch`.
        threshold = min(self.write_batch, FIRST_BATCH_CHUNKS)
        for parsed in parsed_files:
            job = todo[parsed.source]
            if parsed.reason:
                done(FileResult(parsed.source, "failed", reason=parsed.reason, name=job.name))
                continue
            batch.append((job, parsed))
            if sum(len(p.chunks) for _, p in batch) >= threshold:
                self._flush(batch, stored, report, done)
                batch = []
                threshold = min(self.write_batch, threshold * 2)
        self._flush(batch, stored, report, done)

    def _build_indexes(self, report: IngestReport) -> None:
        """Index what the run wrote (the edge store's HNSW graph), so that the first query
        does not search new chunks one by one; timed in the report."""
        if not isinstance(self.store, EdgeDocumentStore) or not (
            report.chunks_written or report.chunks_removed
        ):
            return
        started = time.perf_counter()
        logger.info("Indexing the vectors of {n} chunks", n=report.chunks_written)
        self.store.optimize()
        report.index_seconds = time.perf_counter() - started

    def recover(self) -> int:
        """Settle the changes that an interrupted run began; returns how many there were.

        A change whose new chunks all reached the store is finished (its stale chunks are
        deleted and it is recorded). Any other is rolled back: its new-only chunks are deleted
        and the source keeps its recorded chunks, marked for re-ingestion.
        """
        pending = self.manifest.pending()
        if not pending:
            return 0
        stored = self.manifest.sources()
        for change in pending:
            previous = stored[change.source].chunk_ids if change.source in stored else frozenset()
            present = (
                {d.id for d in self.store.get_documents_by_id(sorted(change.chunk_ids))}
                if change.chunk_ids
                else set()
            )
            if present == change.chunk_ids:
                self._delete(previous - change.chunk_ids)
                self.manifest.commit([change.source])
                logger.info("Finished the interrupted ingest of {source}", source=change.source)
            else:
                self._delete(present - previous)
                self.manifest.abandon(change.source)
                logger.info("Rolled back the interrupted ingest of {source}", source=change.source)
        return len(pending)

    def audit(self) -> dict[str, list[str]]:
        """Compare the manifest with the store: chunk ids `missing` from the store, chunk ids
        in the store that no source accounts for (`orphaned`), and `pending` changes."""
        recorded = {i for s in self.manifest.sources().values() for i in s.chunk_ids}
        held = {d.id for d in self.store.filter_documents()}
        return {
            "missing": sorted(recorded - held),
            "orphaned": sorted(held - recorded),
            "pending": [c.source for c in self.manifest.pending()],
        }

    def _job(
        self,
        path: Path,
        name: str,
        stored: SourceState | None,
        tenant: str | None,
        take_over: bool,
        metadata: dict,
    ) -> "FileResult | _Job":
        """Decide what to do with one file: skip it, refuse it, or parse it (see `ingest` for
        `tenant` and `take_over`)."""
        try:
            size = path.stat().st_size
            file_hash = hash_file(path)
            sidecar = _sidecar(path)
            _check_metadata(sidecar, f"its metadata file {path.name}{SIDECAR_SUFFIX}")
            extra = {**metadata, **sidecar}
        except OSError as e:
            return FileResult(
                str(path), "failed", reason=f"cannot be read: {e.strerror}", name=name
            )
        except (UnreadableFileError, ConfigError) as e:
            return FileResult(str(path), "failed", reason=getattr(e, "reason", str(e)), name=name)
        limit = self.parsing.max_file_mb
        if size > limit * 1_000_000:
            return FileResult(
                str(path),
                "failed",
                name=name,
                reason=f"the file is {size / 1e6:.0f} MB, above the limit of {limit:g} MB "
                "(parsing.max_file_mb); split it, or raise the limit",
            )
        if tenant is None:
            tenant = extra.pop("tenant", None)
        elif extra.pop("tenant", tenant) != tenant:
            return FileResult(
                str(path),
                "failed",
                name=name,
                reason=f"its metadata file {path.name}{SIDECAR_SUFFIX} names the tenant "
                f"{sidecar['tenant']!r}, but this ingest is for the tenant {tenant!r}; a file "
                "cannot move itself to another tenant: remove the tenant from the metadata file",
            )
        if stored is not None and stored.tenant != tenant and not take_over:
            return FileResult(
                str(path),
                "failed",
                name=name,
                reason="the file is ingested for another tenant; that tenant (or an operator) "
                "must remove it first",
            )
        fingerprint = _file_fingerprint(self.fingerprint, tenant, extra, name)
        if stored and stored.matches(file_hash, fingerprint):
            return FileResult(str(path), "unchanged", chunks=len(stored.chunk_ids), name=name)
        return _Job(path, name, file_hash, fingerprint, tenant, extra)

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

    def _flush(
        self,
        batch: list[tuple["_Job", Parsed]],
        stored: dict[str, SourceState],
        report: IngestReport,
        done: Callable[[FileResult], None],
    ) -> None:
        """Journal, embed and write whole files, delete their stale chunks, then record them."""
        if not batch:
            return
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
        self.manifest.begin(changes)
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
                report.chunks_removed += self._delete(previous.chunk_ids - change.chunk_ids)
        self.manifest.commit(c.source for c in changes)
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

    @staticmethod
    def _gone(
        paths: list[str | Path], found: list[Path], stored: dict[str, SourceState]
    ) -> list[SourceState]:
        """The recorded sources under the given folders that are no longer in them (a folder
        that does not exist has none, so a mistyped or unmounted path prunes nothing)."""
        roots = [Path(p).expanduser().resolve() for p in paths if Path(p).expanduser().is_dir()]
        present = {str(path) for path in found}
        return [
            state
            for source, state in sorted(stored.items())
            if source not in present and any(Path(source).is_relative_to(r) for r in roots)
        ]

    def _forget(
        self,
        gone: list[SourceState],
        report: IngestReport,
        done: Callable[[FileResult], None],
    ) -> None:
        """Delete the sources' chunks and forget them, journaled like any change."""
        if not gone:
            return
        self.manifest.begin(SourceState(s.source, None, None, frozenset()) for s in gone)
        for state in gone:
            report.chunks_removed += self._delete(state.chunk_ids)
        self.manifest.commit(s.source for s in gone)
        for state in gone:
            done(
                FileResult(
                    state.source, "removed", chunks=len(state.chunk_ids), name=state.display_name
                )
            )

    def _delete(self, ids: Iterable[str]) -> int:
        ids = sorted(ids)
        if ids:
            self.store.delete_documents(ids)
        return len(ids)

    def _stored_sources(self) -> dict[str, SourceState]:
        """The manifest's sources, reconciled with the store when their counts disagree.

        A store filled before the manifest existed is adopted. Chunks missing from the store
        (deleted behind docent's back) mark their source for re-ingestion; chunks that no
        source accounts for but whose source is recorded are stale copies and are deleted.
        """
        stored = self.manifest.sources()
        recorded = sum(len(s.chunk_ids) for s in stored.values())
        if recorded == self.store.count_documents():
            return stored
        held: dict[str, set[str]] = {}
        for document in self.store.filter_documents():
            held.setdefault(document.meta.get("source", ""), set()).add(document.id)
        if not stored:
            # Old payloads carry no trustworthy settings: every adopted source is re-ingested
            # when it is next given, and pruned like any other when it is gone.
            self.manifest.adopt(
                SourceState(s, "", "", frozenset(i), "unstructured") for s, i in held.items()
            )
            return self.manifest.sources()
        for source, state in stored.items():
            ids = held.get(source, set())
            if state.chunk_ids - ids:
                logger.warning(
                    "{n} chunks of {source} are missing from the store; re-ingesting it",
                    n=len(state.chunk_ids - ids),
                    source=source,
                )
                self.manifest.adopt([replace(state, file_hash="", chunk_ids=frozenset(ids))])
            elif ids - state.chunk_ids:
                self._delete(ids - state.chunk_ids)
        return self.manifest.sources()


@dataclass(frozen=True)
class _Job:
    """A file to parse, with what its chunks will carry."""

    path: Path
    name: str
    file_hash: str
    fingerprint: str
    tenant: str | None
    extra: dict[str, Any]

    def meta(self, chunks_in_file: int, now: str) -> dict[str, Any]:
        return {
            "file_name": self.path.name,
            "source_name": self.name,
            "file_hash": self.file_hash,
            "fingerprint": self.fingerprint,
            "chunks_in_file": chunks_in_file,
            "ingested_at": now,
        }


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


def _with_kept_chunks(result: FileResult, stored: SourceState | None) -> FileResult:
    """A failed file's result, saying that its earlier chunks are still served (if any)."""
    if result.status != "failed" or stored is None or not stored.chunk_ids:
        return result
    kept = len(stored.chunk_ids)
    return replace(
        result,
        kept=kept,
        reason=f"{result.reason}; its {kept} chunks from the last ingest are still served: fix "
        "the file and ingest it again, or delete it and ingest its folder with --prune",
    )


def _dense_embedder(embedding: EmbeddingSettings, model_path: str) -> Any:
    """The document embedder of the configured backend."""
    if embedding.backend == "torch":
        from haystack_integrations.components.embedders.sentence_transformers import (
            SentenceTransformersDocumentEmbedder,
        )

        return SentenceTransformersDocumentEmbedder(
            model=model_path,
            batch_size=embedding.batch_size,
            progress_bar=False,
            normalize_embeddings=True,
            meta_fields_to_embed=EMBEDDED_META,
            local_files_only=True,
        )
    return OnnxDocumentEmbedder(
        model=model_path,
        cache_dir=str(model_cache()),
        precision=embedding.onnx_precision,
        batch_size=embedding.batch_size,
        meta_fields_to_embed=EMBEDDED_META,
    )


def _fingerprint(
    embedding: EmbeddingSettings,
    chunking: ChunkingSettings,
    parsing: ParsingSettings,
    sparse: SparseSettings,
) -> str:
    """A short hash of every setting that shapes the chunks and their vectors (and no other:
    batch sizes, workers and limits change how fast, not what)."""
    settings = {
        # The onnx backend gives torch's vectors; only the quantised one changes them, and
        # since its scales are per text (not per batch), differently from before.
        "embedding": embedding.model
        if embedding.backend != "onnx-int8"
        else f"{embedding.model}@int8-per-text",
        "chunking": chunking.model_dump(),
        "parsing": parsing.model_dump(include={"pdf_strategy", "languages", "markup"}),
        "sparse": sparse.model_dump(),
        "unstructured": version("unstructured"),
        "docent_pipeline": PIPELINE_VERSION,
    }
    return _short_hash(settings)


def _file_fingerprint(
    fingerprint: str, tenant: str | None, extra: dict[str, Any], name: str
) -> str:
    """The settings fingerprint of one file: the run's, plus its tenant, metadata and name
    (all carried by its chunks)."""
    return _short_hash({"settings": fingerprint, "tenant": tenant, "meta": extra, "name": name})


def _short_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def _check_metadata(metadata: dict[str, Any], where: str) -> None:
    taken = sorted(set(metadata) & RESERVED_META)
    if taken:
        raise ConfigError(
            f"{where}: the field(s) {', '.join(taken)} are set by docent itself; use other names"
        )
    if "tenant" in metadata and not isinstance(metadata["tenant"], str):
        raise ConfigError(f"{where}: tenant must be a string")


def _sidecar(path: Path) -> dict[str, Any]:
    """The metadata of `<file>.meta.json` beside the file, if there is one."""
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    # A file whose name is near the limit can have no sidecar (the name would be too long).
    if len(os.fsencode(sidecar.name)) > 255 or not sidecar.is_file():
        return {}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise UnreadableFileError(
            str(path), f"its metadata file {sidecar.name} is not valid JSON ({e}); fix it"
        ) from e
    if not isinstance(data, dict):
        raise UnreadableFileError(
            str(path), f"its metadata file {sidecar.name} must hold a JSON object of fields"
        )
    return data
