"""What every route of `docent serve` shares: the `Service` (the open pipeline and stores, the
metrics, the desks) and the API-key check. The route modules (`answers`, `documents`) import
this module; `pipelines.service.app` builds the FastAPI app and mounts them.

Access fails closed: once the key store has held a key (`docent keys create`), every `/v1`
request needs `Authorization: Bearer KEY` with the endpoint's scope, even after every key is
revoked; the tenant comes from the key and bounds every read and write, never from the
request. A service without keys answers only when started open (`open_access`, the command
line's `--open`).

Work runs on three desks (`pipelines.service.desk.FairDesk`): answers, as many at once as the
models may serve together (`answer_workers`); retrieval-only searches beside them, so that they
never wait for a model; ingest jobs on a desk of their own, their files parsed in worker
processes under time and memory limits. Each model's own bound (`models.X.max_concurrency`) is
kept where it is called, by its `ModelSlot` in the model chain: an answer that finds its model
at its bound waits there for a place. The in-process llama.cpp model serves one call at a time
(its one instance is not thread-safe; its `threads` use the cores), so with it alone answers
run one after another, as before; endpoints serve several each. Each desk holds a bounded
number of waiting requests, a bounded share of them per API key, and serves the keys in turn;
one more is answered 429 with `Retry-After`. A request not answered within `request_timeout`
seconds gets 504 (a queued one is dropped unrun, so nothing is answered twice). Past its
places, a model keeps a line of at most `max_waiting` calls of its own: one more goes on to the
next model of the request's chain, and when no model is left, the request gets 429 with
`Retry-After`. Bad input gets
a 4xx that says why; a failure inside docent a 500 that names it, never a server path.
"""

import functools
import secrets
import sys
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from pathlib import Path
from typing import Any

from haystack import logging

from components.errors import AllModelsFailedError, DocentError, ModelsBusyError
from pipelines.config import ServiceSettings, Settings
from pipelines.local_server import OPERATOR_TENANT_HEADER
from pipelines.query.pipeline import QAPipeline
from pipelines.service.desk import Busy, FairDesk
from pipelines.service.keys import OPEN, OPERATOR, Caller, KeyStore
from pipelines.service.library import DocumentLibrary
from pipelines.service.metrics import ServiceMetrics
from pipelines.service.sessions import SessionStore

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2
# Retrieval-only searches run this many at once, beside the answers.
SEARCH_WORKERS = 2
# How far answers and ingest jobs step back from searches when they share the CPU (as
# `nice` counts: each step gives about 1.25 times less CPU).
MODEL_NICE = 10
INGEST_NICE = 19


class Service:
    """What the routes share: the open pipeline and stores, the metrics, the desks, and the
    API-key check."""

    def __init__(
        self,
        keys: KeyStore | None,
        open_access: bool,
        max_waiting: int | None,
        request_timeout: float | None,
        operator_token: str | None = None,
    ) -> None:
        """The service's state before start-up (no pipeline, no desks yet).

        :param operator_token: the token of the local operator (see `pipelines.local_server`).
        """
        self.keys = keys
        self.open_access = open_access
        self.operator_token = operator_token
        self.overrides = {"max_waiting": max_waiting, "request_timeout": request_timeout}
        self.metrics = ServiceMetrics()
        # The configuration's `service` section with the overrides, once started.
        self.config: ServiceSettings | None = None
        self.desks: dict[str, FairDesk] = {}
        self.pipeline: QAPipeline | None = None
        self.sessions: SessionStore | None = None
        self.documents: DocumentLibrary | None = None
        self._closed = False
        self._folders: list[tuple[str, str]] = []

    def start(self, pipeline: QAPipeline) -> None:
        """Open the desks and stores over a warmed-up pipeline, and resume unfinished jobs."""
        settings = pipeline.settings
        service = settings.service.model_copy(
            update={k: v for k, v in self.overrides.items() if v is not None}
        )

        def desk(name: str, workers: int, places: int, nice: int = 0) -> FairDesk:
            return FairDesk(
                name,
                workers=workers,
                max_waiting=places,
                per_caller=service.per_key(places),
                nice=nice,
                on_change=self.metrics.waiting_changed,
            )

        # When both want the CPU, generation yields to searches, and ingestion (with its
        # embedding threads and parser processes) to both.
        self.desks = {
            "model": desk("model", answer_workers(settings), service.max_waiting, nice=MODEL_NICE),
            "search": desk("search", SEARCH_WORKERS, service.max_waiting),
            "ingest": desk("ingest", 1, service.max_ingest_jobs, nice=INGEST_NICE),
        }
        self.config = service
        # Each model's line: beyond its places, at most max_waiting calls wait for it; one
        # more goes to the next model of its chain, or is refused (429) when none is left.
        for slot in pipeline.registry.chain.slots.values():
            slot.max_waiting = service.max_waiting
        self._folders = _server_folders(settings.data_path, service.ingest_roots)
        self.sessions = SessionStore(settings.sessions_path)
        self.documents = DocumentLibrary(settings, pipeline.store, service.ingest_roots)
        self.pipeline = pipeline
        if self.is_closed():
            logger.info("API keys are in force: every /v1 request needs one")
        elif self.open_access:
            logger.warning(
                "Serving without API keys (--open): anyone who reaches this address may ask, "
                "upload and read the documents of every tenant"
            )
        for job in self.documents.unfinished():
            logger.info("Resuming the ingest job {job} left by the last run", job=job.id)
            work = functools.partial(self.documents.run, job, self.redact)
            self.desks["ingest"].submit(job.caller, work, bounded=False)

    def stop(self) -> None:
        """Close the desks (waiting calls are dropped, running ones finish) and the stores."""
        pipeline, self.pipeline = self.pipeline, None
        for desk in self.desks.values():
            desk.close()
        if self.documents is not None:
            self.documents.close()
        if pipeline is not None:
            pipeline.close()

    def is_closed(self) -> bool:
        """Whether requests need a key: the key store has ever held one. Once true, true for
        the life of the process (revoking every key never opens the service)."""
        if not self._closed and self.keys is not None and self.keys.ever_held():
            self._closed = True
        return self._closed

    def caller(self, scope: str) -> Callable[..., Caller]:
        """A FastAPI dependency: the caller of a request that needs `scope` (401/403 else)."""
        from fastapi import Depends, Header, HTTPException
        from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

        bearer = HTTPBearer(auto_error=False)

        def check(
            credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
            operator_tenant: str | None = Header(default=None, alias=OPERATOR_TENANT_HEADER),
        ) -> Caller:
            found = self.identify(credentials.credentials if credentials is not None else None)
            if found is not None:
                if not found.allows(scope):
                    raise HTTPException(403, f"the API key lacks the scope {scope!r}")
                if found.operator and operator_tenant:
                    # `docent ask --tenant T` beside the server: the operator narrows to T. The
                    # header is read for the operator's token only; a key's tenant is its own.
                    return replace(found, tenant=operator_tenant)
                return found
            if self.is_closed():
                if credentials is None:
                    raise HTTPException(
                        401,
                        "this service needs an API key: send Authorization: Bearer KEY",
                        headers={"WWW-Authenticate": "Bearer"},
                    )
                raise HTTPException(401, "the API key is unknown or revoked")
            raise HTTPException(
                401,
                "this service has no API keys and was not started open: create one with "
                "`docent keys create NAME`, or restart it with --open",
                headers={"WWW-Authenticate": "Bearer"},
            )

        return check

    def identify(self, token: str | None) -> Caller | None:
        """Who presents the bearer `token`: its key's caller; on an open service anyone (clients
        such as openai's always send some bearer, ignored there); else None."""
        if token and self.operator_token and secrets.compare_digest(token, self.operator_token):
            return OPERATOR
        found = self.keys.check(token) if self.keys is not None and token else None
        if found is None and self.open_access and not self.is_closed():
            return OPEN
        return found

    def submit(self, desk: str, who: Caller, work: Callable[[QAPipeline], Any]) -> Future:
        """Queue `work` on a desk for the caller; 429 when it may not wait, 503 while starting."""
        from fastapi import HTTPException

        pipeline = self.pipeline
        if pipeline is None:
            raise HTTPException(503, "the service is starting; retry shortly")
        try:
            return self.desks[desk].submit(who.queue, lambda: work(pipeline))
        except Busy as e:
            self.metrics.rejected.labels(e.reason).inc()
            raise HTTPException(
                429, str(e), headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
            ) from None

    def run(self, desk: str, who: Caller, work: Callable[[QAPipeline], Any]) -> Any:
        """The result of `work`, in turn; 429, 504, or 4xx/5xx on errors."""
        from fastapi import HTTPException

        future = self.submit(desk, who, work)
        try:
            return future.result(timeout=self.config.request_timeout)
        except FutureTimeout:
            future.cancel()
            self.metrics.rejected.labels("timeout").inc()
            raise HTTPException(
                504, f"no answer within {self.config.request_timeout:.0f} s"
            ) from None
        except Exception as e:  # noqa: BLE001  (every failure becomes a response; see failure)
            status, message = self.failure(e, desk)
            retry = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 429 else None
            raise HTTPException(status, message, headers=retry) from e

    def failure(self, error: Exception, where: str) -> tuple[int, str]:
        """The HTTP status and message of a failed call: 429 (counted) when every model that
        could answer was busy, with its waiting line full; 503 when no model could answer, 400
        for docent's own errors, 500 (logged and counted) for anything else. Messages never
        name the server's folders."""
        if isinstance(error, ModelsBusyError):
            self.metrics.rejected.labels("model_busy").inc()
            return 429, self.redact(str(error))
        if isinstance(error, AllModelsFailedError):
            return 503, self.redact(str(error))
        if isinstance(error, DocentError):
            return 400, self.redact(str(error))
        logger.exception("{where} failed: {error}", where=where, error=repr(error))
        self.metrics.failures.labels(where).inc()
        return 500, f"docent failed ({type(error).__name__}); the server's log has the details"

    def redact(self, message: str) -> str:
        """`message` without the server's folders (data directory, ingest roots, the Python
        environment with the shipped models)."""
        for folder, shown in self._folders:
            message = message.replace(folder, shown)
        return message

    def redact_all(self, value: Any) -> Any:
        """`redact` applied to every text in a JSON-ready value (an answer's trace)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self.redact_all(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.redact_all(v) for v in value]
        return value


def answer_workers(settings: Settings) -> int:
    """Answers that run at once: as many as the models may serve together (the sum of their
    `max_concurrency`), so that no model is held below its bound by another's calls."""
    return sum(model.concurrency for model in settings.models.values())


def _server_folders(data_path: Path, ingest_roots: list[Path]) -> list[tuple[str, str]]:
    """The server's folders that messages may name, longest first, and what a client is shown
    instead of each."""
    folders = {str(Path(sys.prefix).resolve()): "<python environment>"}
    for root in ingest_roots:
        folders[str(Path(root).expanduser().resolve())] = f"<ingest root {Path(root).name}>"
    folders[str(data_path.resolve())] = "<data_dir>"
    return sorted(
        ((folder, shown) for folder, shown in folders.items() if len(Path(folder).parts) > 2),
        key=lambda pair: -len(pair[0]),
    )
