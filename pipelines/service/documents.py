"""The document routes of `docent serve`: uploads, server-side ingestion, jobs, removal."""

from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from pipelines.service.core import Service
from pipelines.service.inputs import Identifier, Text
from pipelines.service.jobs import IngestJob
from pipelines.service.keys import Caller
from pipelines.service.library import UploadError


class IngestRequest(BaseModel):
    """Server-side files or folders to ingest; each must lie under `service.ingest_roots`."""

    model_config = ConfigDict(extra="forbid")

    paths: list[Annotated[Text, Field(min_length=1, max_length=4096)]] = Field(
        min_length=1, max_length=100
    )


def add_document_routes(app: FastAPI, service: Service) -> None:
    """Add the document routes to `app`."""

    @app.post("/v1/documents", status_code=202)
    async def upload(
        files: list[UploadFile], who: Caller = Depends(service.caller("ingest"))
    ) -> dict[str, Any]:
        """Upload files (multipart, field `files`) to ingest for the key's tenant; returns the
        ingest job to follow at /v1/jobs/{id}. A file of the same name replaces the earlier
        one when the job runs. Refused: too big (413), a type docent does not read, content
        that is not what the name says or a ZIP bomb (415), a full ingest queue (429; nothing
        is kept)."""
        library = service.documents
        limit = service.config.max_upload_bytes
        checked = []
        for file in files:
            data = await file.read(limit + 1)
            try:
                checked.append((library.check_upload(file.filename or "", data, limit), data))
            except UploadError as e:
                raise HTTPException(e.status, str(e)) from e
        return start(library.stage(checked, who.tenant, who.queue), who)

    @app.post("/v1/ingest", status_code=202)
    def ingest_paths(
        request: IngestRequest, who: Caller = Depends(service.caller("ingest"))
    ) -> dict:
        """Ingest server-side files or folders, only under `service.ingest_roots` (the local
        operator: anywhere on the machine); a file that another tenant ingested stays that
        tenant's (it fails in the job)."""
        library = service.documents
        try:
            paths = [library.check_path(p, anywhere=who.operator) for p in request.paths]
        except UploadError as e:
            # The caller names server paths itself; the allowed roots help it name them.
            raise HTTPException(e.status, str(e)) from e
        return start(library.paths_job(paths, who.tenant, who.queue), who)

    @app.get("/v1/jobs/{job_id}")
    def job(job_id: Identifier, who: Caller = Depends(service.caller("ingest"))) -> dict:
        """An ingest job: queued, running, done or failed, with its summary."""
        found = service.documents.job(job_id, who.tenant)
        if found is None:
            raise HTTPException(404, f"no ingest job {job_id!r}")
        return found.to_dict()

    @app.get("/v1/documents")
    def documents(who: Caller = Depends(service.caller("ingest"))) -> list[dict[str, Any]]:
        """The ingested documents of the key's tenant: id, name, chunks, converter."""
        return service.documents.documents(who.tenant)

    @app.delete("/v1/documents/{document_id}")
    def delete_document(
        document_id: Identifier, who: Caller = Depends(service.caller("ingest"))
    ) -> dict:
        """Remove a document's chunks from the collection (in turn with ingest jobs)."""
        library = service.documents
        removed = service.run("ingest", who, lambda _: library.remove(document_id, who.tenant))
        if removed is None:
            raise HTTPException(404, f"no document {document_id!r}")
        return removed

    @app.get("/v1/collections")
    def collections(who: Caller = Depends(service.caller("ask"))) -> list[dict[str, Any]]:
        """The collection as the key's tenant sees it: embedding model, documents, chunks."""
        return [service.documents.collection(who.tenant)]

    def start(job: IngestJob, who: Caller) -> dict[str, Any]:
        """Queue a recorded job on the ingest desk; when it may not wait (429), it is
        forgotten with its staged files."""
        library = service.documents
        try:
            service.submit("ingest", who, lambda _: library.run(job, service.redact))
        except HTTPException:
            library.discard(job)
            raise
        return job.to_dict()
