"""Documents through the service: uploads checked and kept per tenant, ingest jobs, removal.

The service's pipeline owns the store (an embedded store admits one client per folder), so
the indexer here works over that same store, and its jobs take turns with questions on the
service's one worker.
"""

import hashlib
import re
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from components.converters.unstructured_converter import OLE_MAGIC, check_supported
from components.errors import DocentError, UnreadableFileError
from ingest.indexing import Indexer
from ingest.manifest import Manifest
from pipelines.config import Settings

SHARED = "_shared"
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


@dataclass
class IngestJob:
    """An ingest job of the service: queued, running, done or failed, with its summary."""

    id: str
    tenant: str | None
    files: list[str]
    status: str = "queued"
    created: float = field(default_factory=time.time)
    finished: float | None = None
    summary: dict[str, Any] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (file names only, not server paths)."""
        record = asdict(self)
        record["files"] = [Path(f).name for f in self.files]
        return record


class DocumentLibrary:
    """The documents of the service's collection, by tenant.

    Usage:
    ```python
    library = DocumentLibrary(settings, pipeline.store)
    path = library.save_upload("faq.md", data, tenant="acme")
    job = library.new_job([path], "acme"); library.run(job)   # on the model's worker
    library.documents("acme"); library.remove(document_id, "acme")
    ```
    """

    def __init__(self, settings: Settings, store: Any) -> None:
        """A library over the pipeline's open `store`; the indexer starts on first use."""
        self.settings = settings
        self.store = store
        self.jobs: dict[str, IngestJob] = {}
        self._lock = threading.Lock()
        self._indexer: Indexer | None = None

    def save_upload(self, name: str, data: bytes, tenant: str | None) -> Path:
        """Check an uploaded file and keep it in the tenant's upload folder; a file of the same
        name is replaced (and re-ingested as a change).

        Raises:
            UploadError: 413 when too big, 415 when the type is not read or the content is not
                what the name says, 400 for an empty file or name.
        """
        limit = self.settings.service.max_upload_mb * 1024 * 1024
        if len(data) > limit:
            raise UploadError(
                413,
                f"{name} is {len(data) / 1048576:.1f} MB; uploads are limited to "
                f"{self.settings.service.max_upload_mb:g} MB (service.max_upload_mb)",
            )
        safe = _UNSAFE.sub("_", Path(name or "").name).strip(" .")
        if not safe:
            raise UploadError(400, "the upload has no file name; send it as a named file")
        if not data:
            raise UploadError(400, f"{safe} is empty")
        try:
            check_supported(Path(safe))
        except UnreadableFileError as e:
            raise UploadError(415, e.reason) from e
        mismatch = _content_mismatch(Path(safe).suffix.lower(), data)
        if mismatch:
            raise UploadError(415, f"{safe}: {mismatch}")
        folder = self.settings.uploads_path / (tenant or SHARED)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / safe
        partial = folder / f".{safe}.{uuid.uuid4().hex}.part"
        partial.write_bytes(data)
        partial.replace(path)
        return path

    def check_path(self, path: str) -> Path:
        """A server-side path, resolved (symbolic links followed), when it lies under one of
        `service.ingest_roots`.

        Raises:
            UploadError: 403 when it lies outside them (or none is configured), 404 when it
                does not exist.
        """
        roots = [Path(r).expanduser().resolve() for r in self.settings.service.ingest_roots]
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

    def new_job(self, files: list[Path], tenant: str | None) -> IngestJob:
        """Record a queued job."""
        job = IngestJob(uuid.uuid4().hex, tenant, [str(f) for f in files])
        with self._lock:
            self.jobs[job.id] = job
        return job

    def run(self, job: IngestJob) -> None:
        """Ingest the job's files for its tenant (on the service's worker)."""
        job.status = "running"
        try:
            report = self._index().ingest(job.files, tenant=job.tenant)
            job.summary = report.to_dict()
            for failure in job.summary["failures"]:
                failure["source"] = Path(failure["source"]).name
            job.status = "failed" if report.failures else "done"
            if report.failures:
                job.error = "; ".join(f"{Path(f.source).name}: {f.reason}" for f in report.failures)
        except DocentError as e:
            job.status, job.error = "failed", str(e)
        finally:
            job.finished = time.time()

    def job(self, job_id: str, tenant: str | None) -> IngestJob | None:
        """A job by id, when it is the tenant's (a caller without a tenant sees all)."""
        job = self.jobs.get(job_id)
        return job if job is not None and tenant in (None, job.tenant) else None

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
        """The ingested documents the tenant may see: id, name, chunks, converter, tenant."""
        sources = self._manifest().sources()
        return [
            {
                "id": document_id(source),
                "name": Path(source).name,
                "chunks": len(state.chunk_ids),
                "converter": state.converter,
                "tenant": state.tenant,
            }
            for source, state in sorted(sources.items())
            if tenant is None or state.tenant == tenant
        ]

    def remove(self, doc_id: str, tenant: str | None) -> dict[str, Any] | None:
        """Remove a document's chunks (and its uploaded file); None when the tenant has no
        document with that id."""
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

    def _manifest(self) -> Manifest:
        return Manifest(self.settings.manifest_path, self.settings.store.collection)

    def _index(self) -> Indexer:
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
