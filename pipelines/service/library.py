"""Documents through the service: uploads checked and kept per tenant, ingest jobs, removal.

The service's pipeline owns the store (an embedded store admits one client per folder), so
the indexer here works over that same store. Its jobs run on the service's ingest desk, apart
from questions; their files are parsed in worker processes under the ingest pool's time and
memory limits.

An upload is durable once its job is accepted: its files are staged under
`uploads/.incoming/<job>` and the job recorded in SQLite before the request is answered 202;
the job moves them into the tenant's folder when it runs. A refused upload (429) leaves
nothing behind, and a server stopped with jobs queued or running resumes them when it starts.
"""

import hashlib
import io
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from haystack import logging

from components.converters.archive_limits import check_expansion
from components.converters.unstructured_converter import OLE_MAGIC, check_supported
from components.errors import DocentError, UnreadableFileError
from ingest.indexing import Indexer
from ingest.manifest import Manifest
from ingest.sources import SIDECAR_SUFFIX
from pipelines.config import Settings
from pipelines.service.jobs import IngestJob, JobFile, JobStore

logger = logging.getLogger(__name__)

SHARED = "_shared"
# Room for a sidecar's name (`<name>.meta.json`) within the file-system's 255 bytes.
MAX_NAME_CHARS = 200
_ZIP = b"PK\x03\x04"
# What the first bytes of a binary format must be; text formats must decode as UTF-8.
_MAGIC = {
    ".pdf": (b"%PDF",),
    ".docx": (_ZIP, OLE_MAGIC),
    ".pptx": (_ZIP, OLE_MAGIC),
    ".xlsx": (_ZIP, OLE_MAGIC),
    ".epub": (_ZIP,),
    ".odt": (_ZIP,),
    ".xls": (OLE_MAGIC,),
    ".msg": (OLE_MAGIC,),
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


class UploadError(DocentError):
    """An upload is refused; `status` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def document_id(source: str) -> str:
    """The public id of an ingested source: a hash of its path, which stays on the server."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


class DocumentLibrary:
    """The documents of the service's collection, by tenant, and their ingest jobs.

    Usage:
    ```python
    library = DocumentLibrary(settings, pipeline.store, settings.service.ingest_roots)
    name = library.check_upload("faq.md", data, limit)
    job = library.stage([(name, data)], tenant="acme", caller="key-id")
    library.run(job, redact)             # on the ingest desk
    library.documents("acme"); library.remove(document_id, "acme")
    ```
    """

    def __init__(self, settings: Settings, store: Any, ingest_roots: list[Path]) -> None:
        """A library over the pipeline's open `store`; the indexer starts on first use."""
        self.settings = settings
        self.store = store
        self.ingest_roots = [Path(r).expanduser().resolve() for r in ingest_roots]
        self.jobs = JobStore(settings.jobs_path)
        self._staging = settings.uploads_path / ".incoming"
        self._lock = threading.Lock()
        self._indexer: Indexer | None = None

    def check_upload(self, name: str, data: bytes, limit: int) -> str:
        """The name an uploaded file is kept under, once its size, type and content pass.

        Raises:
            UploadError: 413 when too big, 415 when the type is not read, the content is not
                what the name says or it would expand beyond the parsing limits, 400 for an
                empty file or a missing or too long name.
        """
        if len(data) > limit:
            raise UploadError(
                413,
                f"{name} is {len(data) / 1048576:.1f} MB; uploads are limited to "
                f"{limit / 1048576:g} MB (service.max_upload_mb)",
            )
        safe = _UNSAFE.sub("_", Path(name or "").name).strip(" .")
        if not safe:
            raise UploadError(400, "the upload has no file name; send it as a named file")
        if len(safe) > MAX_NAME_CHARS:
            raise UploadError(
                400,
                f"the file name is {len(safe)} characters long; at most {MAX_NAME_CHARS} are "
                "kept: rename the file",
            )
        if not data:
            raise UploadError(400, f"{safe} is empty")
        try:
            check_supported(Path(safe))
            if Path(safe).suffix.lower() in _MAGIC and data.startswith(_ZIP):
                parsing = self.settings.parsing
                check_expansion(
                    io.BytesIO(data),
                    name=safe,
                    max_unzipped_mb=parsing.max_unzipped_mb,
                    max_ratio=parsing.max_zip_ratio,
                )
        except UnreadableFileError as e:
            raise UploadError(415, e.reason) from e
        mismatch = _content_mismatch(Path(safe).suffix.lower(), data)
        if mismatch:
            raise UploadError(415, f"{safe}: {mismatch}")
        return safe

    def stage(self, uploads: list[tuple[str, bytes]], tenant: str | None, caller: str) -> IngestJob:
        """Write checked uploads where they wait for their job, and record the job (queued);
        a file of the same name as an earlier upload will replace it when the job runs."""
        job_id = uuid.uuid4().hex
        staging = self._staging / job_id
        staging.mkdir(parents=True)
        folder = self.settings.uploads_path / (tenant or SHARED)
        files = {}
        for name, data in uploads:
            (staging / name).write_bytes(data)
            files[name] = JobFile(name, str(folder / name), str(staging / name))
        job = IngestJob(job_id, tenant, caller, list(files.values()))
        self.jobs.add(job)
        return job

    def paths_job(self, paths: list[Path], tenant: str | None, caller: str) -> IngestJob:
        """Record a queued job over checked server-side paths."""
        job = IngestJob(uuid.uuid4().hex, tenant, caller, [JobFile(p.name, str(p)) for p in paths])
        self.jobs.add(job)
        return job

    def discard(self, job: IngestJob) -> None:
        """Forget a job that was not accepted, with its staged files."""
        shutil.rmtree(self._staging / job.id, ignore_errors=True)
        self.jobs.delete(job.id)

    def check_path(self, path: str, anywhere: bool = False) -> Path:
        """A server-side path, resolved (symbolic links followed), when it lies under one of
        the ingest roots (`anywhere`: the local operator, who may ingest any path, as the CLI).

        Raises:
            UploadError: 403 when it lies outside them (or none is configured), 404 when it
                does not exist.
        """
        roots = [Path("/")] if anywhere else self.ingest_roots
        resolved = Path(path).expanduser().resolve()
        if not any(resolved.is_relative_to(root) for root in roots):
            allowed = ", ".join(map(str, roots)) or "none is configured"
            raise UploadError(
                403,
                f"{path} is outside the folders the service may read (service.ingest_roots: "
                f"{allowed})",
            )
        if not resolved.exists():
            raise UploadError(404, f"{path} does not exist")
        if resolved.is_dir():
            for inner in resolved.rglob("*"):
                target = inner.resolve()
                if inner.is_symlink() and not any(target.is_relative_to(r) for r in roots):
                    raise UploadError(
                        403, f"{inner} links to {target}, outside service.ingest_roots"
                    )
        return resolved

    def run(self, job: IngestJob, redact: Callable[[str], str]) -> None:
        """Run a job on the ingest desk: move its staged uploads into place, ingest its files
        for its tenant (never moving another tenant's file to it), and record the outcome.

        :param redact: takes the server's folders out of failure reasons.
        """
        job.status = "running"
        self.jobs.update(job)
        try:
            report = self._index().ingest(
                self._place(job), tenant=job.tenant, take_over=job.tenant is None
            )
            names = {f.path: f.name for f in job.files}
            failures = [
                {"name": names.get(f.source, f.name), "reason": redact(f.reason)}
                for f in report.failures
            ]
            job.summary = {**report.to_dict(), "failures": failures}
            job.status = "failed" if failures else "done"
            job.error = "; ".join(f"{f['name']}: {f['reason']}" for f in failures) or None
        except DocentError as e:
            job.status, job.error = "failed", redact(str(e))
        # Documented fallback: whatever else fails the job is recorded with it, and logged.
        except Exception as e:  # noqa: BLE001
            logger.exception("The ingest job {job} failed: {error}", job=job.id, error=repr(e))
            job.status, job.error = "failed", f"docent failed ({type(e).__name__})"
        finally:
            job.finished = time.time()
            self.jobs.update(job)
            shutil.rmtree(self._staging / job.id, ignore_errors=True)

    def unfinished(self) -> list[IngestJob]:
        """The jobs a stopped server left queued or running (to resume); staged files of
        jobs that were never recorded are removed."""
        jobs = self.jobs.unfinished()
        kept = {job.id for job in jobs}
        if self._staging.is_dir():
            for folder in self._staging.iterdir():
                if folder.name not in kept:
                    logger.info("Removing the unrecorded upload {folder}", folder=folder.name)
                    shutil.rmtree(folder, ignore_errors=True)
        return jobs

    def job(self, job_id: str, tenant: str | None) -> IngestJob | None:
        """A job by id, when it is the tenant's (a caller without a tenant sees all)."""
        return self.jobs.get(job_id, tenant)

    def collection(self, tenant: str | None) -> dict[str, Any]:
        """The collection as the tenant sees it: name, embedding model, documents, chunks."""
        documents = self.documents(tenant)
        bound = self._manifest().bound_model()
        return {
            "name": self.settings.store.collection,
            "embedding_model": bound[0] if bound else self.settings.embedding.model,
            "dimension": bound[1] if bound else None,
            "documents": len(documents),
            "chunks": sum(d["chunks"] for d in documents),
        }

    def documents(self, tenant: str | None) -> list[dict[str, Any]]:
        """The ingested documents the tenant may see: id, name (as cited), chunks, converter,
        tenant."""
        sources = self._manifest().sources()
        return [
            {
                "id": document_id(source),
                "name": state.display_name,
                "chunks": len(state.chunk_ids),
                "converter": state.converter,
                "tenant": state.tenant,
            }
            for source, state in sorted(sources.items(), key=lambda s: s[1].display_name)
            if tenant is None or state.tenant == tenant
        ]

    def remove(self, doc_id: str, tenant: str | None) -> dict[str, Any] | None:
        """Remove a document's chunks (and its uploaded file); None when the tenant has no
        document with that id. On the ingest desk."""
        sources = self._manifest().sources()
        found = [
            s
            for s, state in sources.items()
            if document_id(s) == doc_id and (tenant is None or state.tenant == tenant)
        ]
        if not found:
            return None
        report = self._index().remove(found)
        uploads = self.settings.uploads_path.resolve()
        for source in found:
            if Path(source).resolve().is_relative_to(uploads):
                Path(source).unlink(missing_ok=True)
        return {"id": doc_id, "chunks_removed": report.chunks_removed}

    def close(self) -> None:
        """Stop the indexer's parser workers (the store belongs to the pipeline)."""
        if self._indexer is not None:
            self._indexer.stop_workers()

    def _place(self, job: IngestJob) -> list[str]:
        """Move the job's staged uploads into the tenant's folder; the paths to ingest (for
        an uploaded sidecar `<file>.meta.json`, the file it describes)."""
        paths: dict[str, None] = {}
        for file in job.files:
            target = Path(file.path)
            if file.staged is not None and Path(file.staged).exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(file.staged, target)
            described = target.with_name(target.name.removesuffix(SIDECAR_SUFFIX))
            if target.name.endswith(SIDECAR_SUFFIX) and described.is_file():
                target = described
            paths[str(target)] = None
        return list(paths)

    def _manifest(self) -> Manifest:
        return Manifest(self.settings.manifest_path, self.settings.store.collection)

    def _index(self) -> Indexer:
        with self._lock:
            if self._indexer is None:
                self._indexer = self.settings.open_indexer(store=self.store)
            return self._indexer


def _content_mismatch(suffix: str, data: bytes) -> str | None:
    """Why the content is not what the name says, or None when it may be."""
    if suffix in _MAGIC:
        if not data.startswith(_MAGIC[suffix]):
            return f"the content is not a {suffix} file (its first bytes say otherwise)"
        return None
    head = data[:65536]
    if b"\x00" in head:
        return f"a {suffix} file must be text, and this one holds binary data"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not merely a character cut at the 64 KB mark
            return f"a {suffix} file must be UTF-8 text, and this one is not"
    return None
