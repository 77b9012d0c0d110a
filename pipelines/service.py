"""`docent serve`: the query pipeline as an HTTP service (FastAPI), with OpenAPI docs at /docs.

Endpoints so far: `GET /healthz` (the process answers), `GET /readyz` (models loaded, store
reachable), `POST /v1/ask` (the whole answer trace: answer, citations, decision, intent,
route, models tried, verification, retrieval gate, cost, timings, trace id) and
`POST /v1/chat/completions` (OpenAI-compatible, without streaming yet; the trace in the
extra field `docent`).

The in-process model serves one request at a time: requests wait their turn, at most
`max_waiting` of them; one more is answered 429 with `Retry-After`, so that a burst is told to
come back rather than queued without bound.
"""

import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from pydantic import BaseModel, Field

from components.errors import AllModelsFailedError, DocentError
from pipelines.qa import QAPipeline

RETRY_AFTER_SECONDS = 2


class AskRequest(BaseModel):
    """A question for the knowledge base."""

    question: str = Field(min_length=1, max_length=4000)


class ChatMessage(BaseModel):
    """One message of an OpenAI-style chat: content as text or as a list of parts."""

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text (the text parts, joined)."""
        if isinstance(self.content, list):
            return " ".join(p.get("text", "") for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """The fields of an OpenAI chat completion request that docent uses; others are ignored."""

    model: str = "docent"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


def create_app(open_pipeline: Callable[[], QAPipeline], max_waiting: int = 8) -> Any:
    """The FastAPI app over the pipeline `open_pipeline` returns (opened at start-up, warmed,
    and closed at shutdown).

    :param max_waiting: requests that may wait for the model; beyond, 429.
    """
    from fastapi import FastAPI, HTTPException
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import JSONResponse

    state: dict[str, Any] = {"pipeline": None, "waiting": 0}
    turn = threading.Lock()
    count = threading.Lock()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        pipeline = open_pipeline()
        await run_in_threadpool(pipeline.warm_up)
        state["pipeline"] = pipeline
        try:
            yield
        finally:
            state["pipeline"] = None
            pipeline.close()

    app = FastAPI(
        title="docent",
        summary="Answers with citations from your documents",
        lifespan=lifespan,
    )

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

    @app.post("/v1/ask")
    def ask(request: AskRequest) -> JSONResponse:
        """Answer one question: the answer with its citations and the trace of decisions."""
        return JSONResponse(answer_of(request.question).to_dict())

    @app.post("/v1/chat/completions")
    def chat_completions(request: ChatRequest) -> JSONResponse:
        """OpenAI-compatible: the last user message is the question. The answer is the
        assistant message; its citations and trace travel in the extra field `docent` (the
        same object `/v1/ask` returns)."""
        if request.stream:
            raise HTTPException(400, "streaming is not supported yet; send stream: false")
        users = [m for m in request.messages if m.role == "user" and m.text().strip()]
        if not users:
            raise HTTPException(400, "the messages hold no user message with text")
        answer = answer_of(users[-1].text())
        tokens = answer.tokens
        return JSONResponse(
            {
                "id": f"chatcmpl-{answer.trace_id}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": answer.model or request.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": answer.answer},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": tokens["prompt"],
                    "completion_tokens": tokens["completion"],
                    "total_tokens": tokens["prompt"] + tokens["completion"],
                },
                "docent": answer.to_dict(),
            }
        )

    def answer_of(question: str) -> Any:
        """The pipeline's answer, in turn; 429 when too many wait, 400/503 on errors."""
        with count:
            # The one being answered and those waiting for it.
            if state["waiting"] > max_waiting:
                raise HTTPException(
                    429,
                    f"{max_waiting} requests are already waiting for the model; retry later",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
            state["waiting"] += 1
        try:
            with turn:
                answer = state["pipeline"].ask(question)
        except AllModelsFailedError as e:
            raise HTTPException(503, str(e)) from e
        except DocentError as e:
            raise HTTPException(400, str(e)) from e
        finally:
            with count:
                state["waiting"] -= 1
        return answer

    return app
