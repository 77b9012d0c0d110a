"""`docent serve`: the query pipeline as an HTTP service (FastAPI), with OpenAPI docs at /docs.

Endpoints (README, "Serving"): `POST /v1/ask`, `POST /v1/search`, `POST /v1/chat/completions`
(OpenAI-compatible, streamed with `stream: true`; see `pipelines.openai_api` for where
citations travel), support sessions and handoff tickets, feedback (`pipelines.service_answers`);
document uploads, server-side ingestion, jobs and removal (`pipelines.service_documents`);
`GET /healthz`, `GET /readyz`, `GET /metrics` (Prometheus) and the web chat at `/` (here).

API keys (`docent keys create`): once a key exists, every `/v1` request needs
`Authorization: Bearer KEY` with the endpoint's scope; the tenant comes from the key and
filters retrieval, never from the request. Without keys the service is open (for one machine).

The in-process model serves one request at a time: requests wait their turn in order, at most
`max_waiting` of them; one more is answered 429 with `Retry-After`. A request not answered
within `request_timeout` seconds gets 504 (a queued one is dropped unrun, so nothing is
answered twice).
"""

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from components.errors import AllModelsFailedError, DocentError
from pipelines.documents import DocumentLibrary
from pipelines.keys import OPEN, Caller, KeyStore
from pipelines.metrics import ServiceMetrics
from pipelines.qa import QAPipeline
from pipelines.sessions import SessionStore

RETRY_AFTER_SECONDS = 2


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


class Service:
    """What the routes share: the open pipeline and stores, the metrics, the model desk, and
    the API-key check."""

    def __init__(self, keys: KeyStore | None, max_waiting: int, request_timeout: float) -> None:
        """The service's state before start-up (no pipeline yet)."""
        self.keys = keys
        self.max_waiting = max_waiting
        self.request_timeout = request_timeout
        self.metrics = ServiceMetrics()
        self.desk = ModelDesk(max_waiting, self.metrics)
        self.pipeline: QAPipeline | None = None
        self.sessions: SessionStore | None = None
        self.documents: DocumentLibrary | None = None

    def caller(self, scope: str) -> Callable[..., Caller]:
        """A FastAPI dependency: the caller of a request that needs `scope` (401/403 else)."""
        from fastapi import Depends, HTTPException
        from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

        bearer = HTTPBearer(auto_error=False)
        keys = self.keys

        def check(credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Caller:
            if keys is None:
                return OPEN
            # A valid key is found with one look-up; whether any key is in force is asked
            # only when there is none (clients such as openai's always send some bearer).
            found = keys.check(credentials.credentials) if credentials is not None else None
            if found is None:
                if not keys.active():
                    return OPEN
                if credentials is None:
                    raise HTTPException(
                        401,
                        "this service needs an API key: send Authorization: Bearer KEY",
                        headers={"WWW-Authenticate": "Bearer"},
                    )
                raise HTTPException(401, "the API key is unknown or revoked")
            if not found.allows(scope):
                raise HTTPException(403, f"the API key lacks the scope {scope!r}")
            return found

        return check

    def submit(self, work: Callable[[QAPipeline], Any]) -> Future:
        """Queue `work` for the model; 429 when the queue is full, 503 while starting."""
        from fastapi import HTTPException

        pipeline = self.pipeline
        if pipeline is None:
            raise HTTPException(503, "the service is starting; retry shortly")
        try:
            return self.desk.submit(lambda: work(pipeline))
        except Busy:
            raise HTTPException(
                429,
                f"{self.max_waiting} requests are already waiting for the model; retry later",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ) from None

    def run(self, work: Callable[[QAPipeline], Any]) -> Any:
        """The result of `work`, in turn; 429, 504, or 400/503 on errors."""
        from fastapi import HTTPException

        future = self.submit(work)
        try:
            return future.result(timeout=self.request_timeout)
        except FutureTimeout:
            future.cancel()
            self.metrics.rejected.labels("timeout").inc()
            raise HTTPException(504, f"no answer within {self.request_timeout:.0f} s") from None
        except AllModelsFailedError as e:
            raise HTTPException(503, str(e)) from e
        except DocentError as e:
            raise HTTPException(400, str(e)) from e


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
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse, Response

    from pipelines.service_answers import add_answer_routes
    from pipelines.service_documents import add_document_routes

    service = Service(keys, max_waiting, request_timeout)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        pipeline = open_pipeline()
        await asyncio.get_running_loop().run_in_executor(None, pipeline.warm_up)
        service.sessions = SessionStore(pipeline.settings.sessions_path)
        service.documents = DocumentLibrary(pipeline.settings, pipeline.store)
        service.pipeline = pipeline
        try:
            yield
        finally:
            service.pipeline = None
            service.desk.close()
            service.documents.close()
            pipeline.close()

    app = FastAPI(
        title="docent",
        summary="Answers with citations from your documents",
        lifespan=lifespan,
    )

    @app.middleware("http")
    async def limit_uploads(request: Request, call_next):
        """Refuse an upload bigger than the limit before its body is read."""
        if request.url.path == "/v1/documents" and request.method == "POST":
            pipeline = service.pipeline
            limit = pipeline.settings.service.max_upload_mb if pipeline else 0
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
        service.metrics.request(path, response.status_code, time.perf_counter() - started)
        return response

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Ready when the models are loaded and the store answers; 503 otherwise."""
        pipeline = service.pipeline
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
        body, content_type = service.metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/", response_class=HTMLResponse)
    def chat_page() -> str:
        """The web chat for the knowledge base."""
        return resources.files("pipelines").joinpath("web/chat.html").read_text("utf-8")

    add_answer_routes(app, service)
    add_document_routes(app, service)
    return app
