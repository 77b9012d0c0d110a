"""`docent serve`: the query pipeline as an HTTP service (FastAPI), with OpenAPI docs at /docs.

This module builds the app and mounts the route modules over one `Service`
(`pipelines.service.core`). Endpoints (README, "Serving"): `POST /v1/ask`, `POST /v1/search`,
`POST /v1/chat/completions` (OpenAI-compatible, streamed with `stream: true`; see
`pipelines.service.openai_api` for where citations travel), support sessions and handoff
tickets, feedback (`pipelines.service.answers`); document uploads, server-side ingestion, jobs
and removal (`pipelines.service.documents`); `GET /healthz`, `GET /readyz`, `GET /metrics`
(Prometheus) and the web chat at `/` (here).
"""

import asyncio
from collections.abc import Callable
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from haystack import logging

from pipelines.query.pipeline import QAPipeline
from pipelines.service.answers import add_answer_routes
from pipelines.service.core import Service
from pipelines.service.documents import add_document_routes
from pipelines.service.inputs import printable
from pipelines.service.keys import KeyStore
from pipelines.service.middleware import Admission, BodyLimit, Counted

logger = logging.getLogger(__name__)


def create_app(
    open_pipeline: Callable[[], QAPipeline],
    max_waiting: int | None = None,
    request_timeout: float | None = None,
    keys: KeyStore | None = None,
    open_access: bool = False,
    operator_token: str | None = None,
) -> FastAPI:
    """The FastAPI app over the pipeline `open_pipeline` returns (opened at start-up, warmed,
    and closed at shutdown).

    :param max_waiting: requests that may wait for the model (and, apart, for searches);
        beyond, 429 [default: the pipeline's `service.max_waiting`].
    :param request_timeout: seconds a request may take, waiting included; beyond, 504
        [default: `service.request_timeout`].
    :param keys: the API keys; once the store has held one, every request needs a key.
    :param open_access: answer without a key while the key store has never held one.
    :param operator_token: a token that acts as the local operator (`pipelines.local_server`):
        every scope, any tenant, local paths outside `service.ingest_roots`.
    """
    service = Service(keys, open_access, max_waiting, request_timeout, operator_token)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        pipeline = open_pipeline()
        await asyncio.get_running_loop().run_in_executor(None, pipeline.warm_up)
        service.start(pipeline)
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(
        title="docent",
        summary="Answers with citations from your documents",
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(BodyLimit, service=service)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        """422 with what was wrong and where; echoed values made safe to send back."""
        detail = [
            {
                "loc": printable(list(e.get("loc", ()))),
                "msg": printable(e.get("msg", "")),
                "type": e.get("type", ""),
                "input": printable(e.get("input")),
            }
            for e in error.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    app.add_middleware(Admission, service=service)
    app.add_middleware(Counted, metrics=service.metrics)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is up (no key needed)."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Ready when the models are loaded and the store answers; 503 otherwise. No key is
        needed, so it tells nothing about the documents."""
        pipeline = service.pipeline
        if pipeline is None:
            return JSONResponse({"ready": False, "reason": "starting"}, status_code=503)
        try:
            pipeline.store.count_documents()
        except Exception as e:  # noqa: BLE001  (any store failure means not ready)
            logger.warning("The store does not answer: {error}", error=repr(e))
            return JSONResponse(
                {"ready": False, "reason": "the store does not answer"}, status_code=503
            )
        return JSONResponse({"ready": True})

    admin = service.caller("admin")

    @app.get("/metrics")
    def prometheus(
        credentials: HTTPAuthorizationCredentials | None = Depends(HTTPBearer(auto_error=False)),
    ) -> Response:
        """Prometheus metrics: requests, stage latencies, model calls, gates, tokens, cost.
        Needs an admin key once the service has keys."""
        if service.is_closed():
            admin(credentials)
        body, content_type = service.metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/", response_class=HTMLResponse)
    def chat_page() -> str:
        """The web chat for the knowledge base."""
        return resources.files("pipelines.service").joinpath("web/chat.html").read_text("utf-8")

    add_answer_routes(app, service)
    add_document_routes(app, service)
    return app
