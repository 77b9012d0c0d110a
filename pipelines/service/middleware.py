"""The ASGI middleware of `docent serve`, outermost first when mounted by `pipelines.service.app`:
request counting, early refusal of requests their desk would refuse, and the body size limit.
Plain ASGI classes, so that a refused request costs next to nothing."""

import time
from collections.abc import Callable
from typing import Any

from pipelines.service.core import RETRY_AFTER_SECONDS, Service
from pipelines.service.metrics import ServiceMetrics


class BodyLimit:
    """Refuse a request body over its limit while it is read (413), whatever its transfer
    encoding: a declared length over the limit is refused before reading, and a chunked body
    is counted as it arrives."""

    def __init__(self, app: Any, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        config = self.service.config
        if scope["type"] != "http" or config is None:
            await self.app(scope, receive, send)
            return
        from fastapi import HTTPException
        from fastapi.responses import JSONResponse

        if scope["path"] == "/v1/documents" and scope["method"] == "POST":
            # Multipart framing adds a little: a body beyond the file limit plus 1 MB is refused.
            limit = config.max_upload_bytes + (1 << 20)
            detail = f"the upload is over {config.max_upload_mb:g} MB (service.max_upload_mb)"
        else:
            limit = config.max_body_kb * 1024
            detail = f"the request body is over {config.max_body_kb} KB (service.max_body_kb)"
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, detail)
            return message

        await self.app(scope, counted, send)


# The endpoints whose desk is known from the path alone, and the scope they need.
_DESK_OF_PATH = {
    "/v1/chat/completions": ("model", "ask"),
    "/v1/search": ("search", "ask"),
    "/v1/documents": ("ingest", "ingest"),
    "/v1/ingest": ("ingest", "ingest"),
}


class Admission:
    """Refuse at once, before its body is read or validated, a request that its desk would
    refuse (429): a key flooding the service costs it a look-up per request. The desk still
    decides when the request is queued."""

    def __init__(self, app: Any, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        route = _DESK_OF_PATH.get(scope.get("path", "")) if scope["type"] == "http" else None
        desk = self.service.desks.get(route[0]) if route and scope["method"] == "POST" else None
        if desk is not None:
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            scheme, _, token = header.partition(" ")
            who = self.service.identify(token.strip() if scheme.lower() == "bearer" else None)
            busy = who.allows(route[1]) and desk.refusal(who.queue) if who else None
            if busy:
                from fastapi.responses import JSONResponse

                self.service.metrics.rejected.labels(busy.reason).inc()
                refused = JSONResponse(
                    {"detail": str(busy)},
                    status_code=429,
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Counted:
    """Count every HTTP request by route and status, with its latency (a plain ASGI
    middleware: it costs a refused request next to nothing)."""

    def __init__(self, app: Any, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sent(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.request(path, status, time.perf_counter() - started)
