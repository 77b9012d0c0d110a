"""`docent serve`: the query pipeline as an HTTP service (FastAPI), with OpenAPI docs at /docs.

Endpoints: `POST /v1/ask` (the whole answer trace: answer, citations, decision, intent, route,
models tried, verification, retrieval gate, cost, timings, trace id), `POST /v1/search`
(retrieval only), `POST /v1/chat/completions` (OpenAI-compatible, streamed with `stream: true`;
see `pipelines.openai_api` for where citations travel), `POST /v1/sessions` and
`GET /v1/sessions/{id}` (support conversations: follow-ups are read in context),
`GET /v1/handoffs[/{id}]` (tickets with the conversation handed over), `POST /v1/feedback` (a
rating stored with the audit record), `GET /healthz`, `GET /readyz`, `GET /metrics`
(Prometheus) and the web chat at `/`.

API keys (`docent keys create`): once a key exists, every `/v1` request needs
`Authorization: Bearer KEY` with the endpoint's scope; the tenant comes from the key and
filters retrieval, never from the request. Without keys the service is open (for one machine).

The in-process model serves one request at a time: requests wait their turn in order, at most
`max_waiting` of them; one more is answered 429 with `Retry-After`. A request not answered
within `request_timeout` seconds gets 504 (a queued one is dropped unrun, so nothing is
answered twice).
"""

import asyncio
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from components.errors import AllModelsFailedError, DocentError
from pipelines.documents import DocumentLibrary, UploadError
from pipelines.keys import OPEN, Caller, KeyStore
from pipelines.metrics import ServiceMetrics
from pipelines.openai_api import ChatRequest, ChunkWriter, completion
from pipelines.qa import QAPipeline
from pipelines.sessions import SessionStore

RETRY_AFTER_SECONDS = 2


class AskRequest(BaseModel):
    """A question for the knowledge base (the tenant comes from the API key, not from here)."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=4000)
    session_id: str | None = Field(
        default=None, description="A conversation from POST /v1/sessions: follow-ups read in it."
    )


class SearchRequest(BaseModel):
    """A retrieval-only request: the relevant passages, without generation."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=4000)
    top_k: int = Field(default=5, ge=1, le=50)


class FeedbackRequest(BaseModel):
    """A person's rating of an answer, by its trace id."""

    model_config = ConfigDict(extra="forbid")

    trace_id: str = Field(min_length=1, max_length=64)
    rating: Literal["up", "down"]
    comment: str = Field(default="", max_length=2000)


class IngestRequest(BaseModel):
    """Server-side files or folders to ingest; each must lie under `service.ingest_roots`."""

    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(min_length=1, max_length=100)


class Busy(Exception):
    """The model's queue is full."""


class ModelDesk:
    """One worker runs the pipeline's calls in arrival order; at most `max_waiting` wait."""

    def __init__(self, max_waiting: int, metrics: ServiceMetrics) -> None:
        """A desk with an empty queue."""
        self.max_waiting = max_waiting
        self.metrics = metrics
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="docent-model")
        self._lock = threading.Lock()
        self._holding = 0

    def submit(self, work: Callable[[], Any]) -> Future:
        """Queue `work`; Busy when the one being served and `max_waiting` others are there."""
        with self._lock:
            if self._holding > self.max_waiting:
                self.metrics.rejected.labels("queue_full").inc()
                raise Busy()
            self._holding += 1
            self.metrics.waiting.set(self._holding)
        future = self._worker.submit(work)
        future.add_done_callback(self._leave)
        return future

    def _leave(self, _: Future) -> None:
        with self._lock:
            self._holding -= 1
            self.metrics.waiting.set(self._holding)

    def close(self) -> None:
        """Stop taking work; wait for the running call."""
        self._worker.shutdown(wait=True, cancel_futures=True)


def create_app(
    open_pipeline: Callable[[], QAPipeline],
    max_waiting: int = 8,
    request_timeout: float = 120.0,
    keys: KeyStore | None = None,
) -> Any:
    """The FastAPI app over the pipeline `open_pipeline` returns (opened at start-up, warmed,
    and closed at shutdown).

    :param max_waiting: requests that may wait for the model; beyond, 429.
    :param request_timeout: seconds a request may take, waiting included; beyond, 504.
    :param keys: the API keys; while one is active, requests need a key.
    """
    from fastapi import Depends, FastAPI, HTTPException, Request, UploadFile
    from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

    metrics = ServiceMetrics()
    desk = ModelDesk(max_waiting, metrics)
    state: dict[str, Any] = {"pipeline": None}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        pipeline = open_pipeline()
        await asyncio.get_running_loop().run_in_executor(None, pipeline.warm_up)
        state["pipeline"] = pipeline
        state["sessions"] = SessionStore(pipeline.settings.sessions_path)
        state["documents"] = DocumentLibrary(pipeline.settings, pipeline.store)
        try:
            yield
        finally:
            state["pipeline"] = None
            desk.close()
            state["documents"].close()
            pipeline.close()

    app = FastAPI(
        title="docent",
        summary="Answers with citations from your documents",
        lifespan=lifespan,
    )
    bearer = HTTPBearer(auto_error=False)

    def caller(scope: str) -> Callable[..., Caller]:
        def check(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Caller:
            if keys is None or not keys.active():
                return OPEN
            if credentials is None:
                raise HTTPException(
                    401,
                    "this service needs an API key: send Authorization: Bearer KEY",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            found = keys.check(credentials.credentials)
            if found is None:
                raise HTTPException(401, "the API key is unknown or revoked")
            if not found.allows(scope):
                raise HTTPException(403, f"the API key lacks the scope {scope!r}")
            return found

        return check

    @app.middleware("http")
    async def limit_uploads(request: Request, call_next):
        """Refuse an upload bigger than the limit before its body is read."""
        if request.url.path == "/v1/documents" and request.method == "POST":
            limit = state["pipeline"].settings.service.max_upload_mb if state["pipeline"] else 0
            size = int(request.headers.get("content-length") or 0)
            # Multipart framing adds a little; a body beyond the limit plus 1 MB is refused.
            if size > (limit + 1) * 1024 * 1024:
                return JSONResponse(
                    {"detail": f"the upload is over {limit:g} MB (service.max_upload_mb)"},
                    status_code=413,
                )
        return await call_next(request)

    @app.middleware("http")
    async def count_requests(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.request(path, response.status_code, time.perf_counter() - started)
        return response

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Ready when the models are loaded and the store answers; 503 otherwise."""
        pipeline = state["pipeline"]
        if pipeline is None:
            return JSONResponse({"ready": False, "reason": "starting"}, status_code=503)
        try:
            chunks = pipeline.store.count_documents()
        except Exception as e:  # noqa: BLE001  (any store failure means not ready)
            return JSONResponse(
                {"ready": False, "reason": f"the store does not answer: {e}"}, status_code=503
            )
        return JSONResponse({"ready": True, "chunks": chunks})

    @app.get("/metrics")
    def prometheus() -> Response:
        """Prometheus metrics: requests, stage latencies, model calls, gates, tokens, cost."""
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.post("/v1/documents", status_code=202)
    async def upload(
        files: list[UploadFile], who: Caller = Depends(caller("ingest"))
    ) -> dict[str, Any]:
        """Upload files (multipart, field `files`) to ingest for the key's tenant; returns the
        ingest job to follow at /v1/jobs/{id}. A file of the same name replaces the earlier
        one. Refused: too big (413), a type docent does not read or content that is not what
        the name says (415)."""
        library = state["documents"]
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
    def ingest_paths(request: IngestRequest, who: Caller = Depends(caller("ingest"))) -> dict:
        """Ingest server-side files or folders, only under `service.ingest_roots`."""
        try:
            paths = [state["documents"].check_path(p) for p in request.paths]
        except UploadError as e:
            raise HTTPException(e.status, str(e)) from e
        return start_job(paths, who)

    @app.get("/v1/jobs/{job_id}")
    def job(job_id: str, who: Caller = Depends(caller("ingest"))) -> dict[str, Any]:
        """An ingest job: queued, running, done or failed, with its summary."""
        found = state["documents"].job(job_id, who.tenant)
        if found is None:
            raise HTTPException(404, f"no ingest job {job_id!r}")
        return found.to_dict()

    @app.get("/v1/documents")
    def documents(who: Caller = Depends(caller("ingest"))) -> list[dict[str, Any]]:
        """The ingested documents of the key's tenant: id, name, chunks, converter."""
        return state["documents"].documents(who.tenant)

    @app.delete("/v1/documents/{document_id}")
    def delete_document(document_id: str, who: Caller = Depends(caller("ingest"))) -> dict:
        """Remove a document's chunks from the collection."""
        library = state["documents"]
        removed = run(lambda p: library.remove(document_id, who.tenant))
        if removed is None:
            raise HTTPException(404, f"no document {document_id!r}")
        return removed

    @app.get("/v1/collections")
    def collections(who: Caller = Depends(caller("ask"))) -> list[dict[str, Any]]:
        """The collection as the key's tenant sees it: embedding model, documents, chunks."""
        return [state["documents"].collection(who.tenant)]

    def start_job(files: list[Any], who: Caller) -> dict[str, Any]:
        library = state["documents"]
        job = library.new_job(files, who.tenant)
        try:
            submit(lambda p: library.run(job))
        except HTTPException:
            library.jobs.pop(job.id, None)
            raise
        return job.to_dict()

    @app.get("/", response_class=HTMLResponse)
    def chat_page() -> str:
        """The web chat for the knowledge base."""
        return resources.files("pipelines").joinpath("web/chat.html").read_text("utf-8")

    @app.post("/v1/ask")
    def ask(request: AskRequest, who: Caller = Depends(caller("ask"))) -> JSONResponse:
        """Answer one question: the answer with its citations and the trace of decisions.
        With a `session_id`, the question is read in its conversation and added to it."""
        session = checked_session(request.session_id, who)
        answer = run(lambda p: converse(p, request.question, who, session))
        metrics.answer(answer.to_dict())
        return JSONResponse(answer.to_dict())

    @app.post("/v1/sessions", status_code=201)
    def new_session(who: Caller = Depends(caller("ask"))) -> dict[str, str]:
        """Start a support conversation; pass its `session_id` with each question."""
        return {"session_id": state["sessions"].create(who.tenant)}

    @app.get("/v1/sessions/{session_id}")
    def get_session(session_id: str, who: Caller = Depends(caller("ask"))) -> dict:
        """A conversation's turns: question, how it was read, answer, decision, trace id."""
        session = state["sessions"].get(session_id, who.tenant)
        if session is None:
            raise HTTPException(404, f"no session {session_id!r}")
        return session

    @app.get("/v1/handoffs")
    def handoffs(limit: int = 50, who: Caller = Depends(caller("admin"))) -> list[dict]:
        """The newest handoff tickets (of the key's tenant), for the help desk."""
        desk = state["pipeline"].handoffs
        return [t.to_dict() for t in desk.tickets(min(max(limit, 1), 500), who.tenant)]

    @app.get("/v1/handoffs/{ticket_id}")
    def handoff(ticket_id: str, who: Caller = Depends(caller("ask"))) -> dict:
        """One handoff ticket, with the conversation it hands over."""
        ticket = state["pipeline"].handoffs.ticket(ticket_id, who.tenant)
        if ticket is None:
            raise HTTPException(404, f"no handoff ticket {ticket_id!r}")
        record = ticket.to_dict()
        if ticket.session_id is not None:
            record["conversation"] = state["sessions"].get(ticket.session_id, who.tenant)
        return record

    @app.post("/v1/search")
    def search(request: SearchRequest, who: Caller = Depends(caller("ask"))) -> JSONResponse:
        """The passages relevant to a question (retrieval and the relevance floor only)."""
        documents = run(lambda p: p.search(request.question, tenant=who.tenant))
        return JSONResponse(
            {
                "question": request.question,
                "passages": [
                    {
                        "source": d.meta.get("source", ""),
                        "page": d.meta.get("page"),
                        "section": d.meta.get("section", ""),
                        "text": d.content or "",
                        "similarity": d.meta.get("similarity"),
                    }
                    for d in documents[: request.top_k]
                ],
            }
        )

    @app.post("/v1/feedback")
    def feedback(request: FeedbackRequest, who: Caller = Depends(caller("ask"))) -> dict:
        """Store a thumbs up or down (and a comment) with the answer's audit record."""
        audit = state["pipeline"].audit
        if audit is None:
            raise HTTPException(409, "feedback is stored with the audit log: set audit.enabled")
        if not audit.feedback(request.trace_id, request.rating, request.comment, who.tenant):
            raise HTTPException(404, f"no answer with trace id {request.trace_id!r}")
        return {"trace_id": request.trace_id, "rating": request.rating}

    @app.post("/v1/chat/completions", response_model=None)
    def chat_completions(
        request: ChatRequest, who: Caller = Depends(caller("ask"))
    ) -> JSONResponse | StreamingResponse:
        """OpenAI-compatible: the last user message is the question; `stream: true` streams
        the answer as server-sent events. Citations and the trace travel in the extra field
        `docent` (see the README)."""
        question = request.question()
        if question is None:
            raise HTTPException(400, "the messages hold no user message with text")
        session = checked_session(request.session_id, who)
        # Without a session, the conversation is the request's earlier user messages.
        earlier = request.earlier_questions() if session is None else None
        if not request.stream:
            answer = run(lambda p: converse(p, question, who, session, earlier)).to_dict()
            metrics.answer(answer)
            return JSONResponse(completion(answer, request.model))
        events: queue.Queue = queue.Queue()

        def work(pipeline: QAPipeline) -> None:
            try:
                answer = converse(pipeline, question, who, session, earlier, events.put)
                events.put({"type": "final", "answer": answer.to_dict()})
            except AllModelsFailedError as e:
                events.put({"type": "error", "status": 503, "message": str(e)})
            except DocentError as e:
                events.put({"type": "error", "status": 400, "message": str(e)})

        deadline = time.monotonic() + request_timeout
        future = submit(work)
        writer = ChunkWriter(f"chatcmpl-{uuid.uuid4().hex}", request.model)

        def stream():
            yield writer.role()
            while True:
                try:
                    event = events.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    future.cancel()
                    metrics.rejected.labels("timeout").inc()
                    yield writer.error(f"no answer within {request_timeout:.0f} s", "timeout", 504)
                    break
                if event["type"] == "final":
                    metrics.answer(event["answer"])
                    yield writer.final(event["answer"])
                    break
                if event["type"] == "error":
                    yield writer.error(event["message"], "docent_error", event["status"])
                    break
                yield writer.event(event)
            yield writer.done()

        return StreamingResponse(stream(), media_type="text/event-stream")

    def checked_session(session_id: str | None, who: Caller) -> str | None:
        """The session id when the caller may use it; 404 otherwise."""
        if session_id is not None and not state["sessions"].exists(session_id, who.tenant):
            raise HTTPException(404, f"no session {session_id!r}: create one with /v1/sessions")
        return session_id

    def converse(
        pipeline: QAPipeline,
        question: str,
        who: Caller,
        session: str | None,
        history: list[str] | None = None,
        on_event: Callable[[dict], None] | None = None,
    ) -> Any:
        """Answer in the session's context (or `history`'s), and add the turn to it."""
        sessions = state["sessions"]
        if session is not None:
            history = sessions.history(session)
        answer = pipeline.ask(
            question, tenant=who.tenant, on_event=on_event, history=history, session_id=session
        )
        if session is not None:
            sessions.append(session, answer)
        return answer

    def submit(work: Callable[[QAPipeline], Any]) -> Future:
        """Queue `work` for the model; 429 when the queue is full, 503 while starting."""
        pipeline = state["pipeline"]
        if pipeline is None:
            raise HTTPException(503, "the service is starting; retry shortly")
        try:
            return desk.submit(lambda: work(pipeline))
        except Busy:
            raise HTTPException(
                429,
                f"{max_waiting} requests are already waiting for the model; retry later",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ) from None

    def run(work: Callable[[QAPipeline], Any]) -> Any:
        """The result of `work`, in turn; 429, 504, or 400/503 on errors."""
        future = submit(work)
        try:
            return future.result(timeout=request_timeout)
        except FutureTimeout:
            future.cancel()
            metrics.rejected.labels("timeout").inc()
            raise HTTPException(504, f"no answer within {request_timeout:.0f} s") from None
        except AllModelsFailedError as e:
            raise HTTPException(503, str(e)) from e
        except DocentError as e:
            raise HTTPException(400, str(e)) from e

    return app
