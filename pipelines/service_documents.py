"""The document routes of `docent serve`: uploads, server-side ingestion, jobs, removal."""

from typing import Any

from fastapi import Depends, FastAPI, HTTPException, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from pipelines.documents import UploadError
from pipelines.keys import Caller
from pipelines.service import Service


class IngestRequest(BaseModel):
    """Server-side files or folders to ingest; each must lie under `service.ingest_roots`."""

    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(min_length=1, max_length=100)


def add_document_routes(app: FastAPI, service: Service) -> None:
    """Add the document routes to `app`."""

    @app.post("/v1/documents", status_code=202)
    async def upload(
        files: list[UploadFile], who: Caller = Depends(service.caller("ingest"))
    ) -> dict[str, Any]:
        """Upload files (multipart, field `files`) to ingest for the key's tenant; returns the
        ingest job to follow at /v1/jobs/{id}. A file of the same name replaces the earlier
        one. Refused: too big (413), a type docent does not read or content that is not what
        the name says (415)."""
        library = service.documents
        limit = int(library.settings.service.max_upload_mb * 1024 * 1024)
        saved = []
        for file in files:
            data = await file.read(limit + 1)
            try:
                saved.append(library.save_upload(file.filename or "", data, who.tenant))
            except UploadError as e:
                raise HTTPException(e.status, str(e)) from e
        return start_job(saved, who)

    @app.post("/v1/ingest", status_code=202)
    def ingest_paths(
        request: IngestRequest, who: Caller = Depends(service.caller("ingest"))
    ) -> dict:
        """Ingest server-side files or folders, only under `service.ingest_roots`."""
        try:
            paths = [service.documents.check_path(p) for p in request.paths]
        except UploadError as e:
            raise HTTPException(e.status, str(e)) from e
        return start_job(paths, who)

    @app.get("/v1/jobs/{job_id}")
    def job(job_id: str, who: Caller = Depends(service.caller("ingest"))) -> dict[str, Any]:
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
    def delete_document(document_id: str, who: Caller = Depends(service.caller("ingest"))) -> dict:
        """Remove a document's chunks from the collection."""
        library = service.documents
        removed = service.run(lambda p: library.remove(document_id, who.tenant))
        if removed is None:
            raise HTTPException(404, f"no document {document_id!r}")
        return removed

    @app.get("/v1/collections")
    def collections(who: Caller = Depends(service.caller("ask"))) -> list[dict[str, Any]]:
        """The collection as the key's tenant sees it: embedding model, documents, chunks."""
        return [service.documents.collection(who.tenant)]

    def start_job(files: list[Any], who: Caller) -> dict[str, Any]:
        library = service.documents
        job = library.new_job(files, who.tenant)
        try:
            service.submit(lambda p: library.run(job))
        except HTTPException:
            library.jobs.pop(job.id, None)
            raise
        return job.to_dict()
