"""The answering routes of `docent serve`: ask, search, OpenAI chat completions (streamed or
not), support sessions, handoff tickets and feedback."""

import queue
import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from pipelines.answer import passage
from pipelines.query.pipeline import QAPipeline
from pipelines.service.core import Service
from pipelines.service.inputs import Identifier, Question, Text
from pipelines.service.keys import Caller
from pipelines.service.openai_api import ChatRequest, ChunkWriter, completion


class AskRequest(BaseModel):
    """A question for the knowledge base (the tenant comes from the API key, not from here)."""

    model_config = ConfigDict(extra="forbid")

    question: Question
    session_id: Identifier | None = Field(
        default=None, description="A conversation from POST /v1/sessions: follow-ups read in it."
    )
    retrieval_only: bool = Field(
        default=False, description="Return the relevant passages only, as /v1/search does."
    )


class SearchRequest(BaseModel):
    """A retrieval-only request: the relevant passages, without generation."""

    model_config = ConfigDict(extra="forbid")

    question: Question
    top_k: int = Field(default=5, ge=1, le=50)


class FeedbackRequest(BaseModel):
    """A person's rating of an answer, by its trace id."""

    model_config = ConfigDict(extra="forbid")

    trace_id: Identifier
    rating: Literal["up", "down"]
    comment: Text = Field(default="", max_length=2000)


def add_answer_routes(app: FastAPI, service: Service) -> None:
    """Add the answering routes to `app`."""

    @app.post("/v1/ask")
    def ask(request: AskRequest, who: Caller = Depends(service.caller("ask"))) -> JSONResponse:
        """Answer one question: the answer with its citations and the trace of decisions.
        With a `session_id`, the question is read in its conversation and added to it."""
        if request.retrieval_only:
            return search(SearchRequest(question=request.question), who)
        session = checked_session(request.session_id, who)
        answer = service.run("model", who, lambda p: converse(p, request.question, who, session))
        service.metrics.answer(answer)
        return JSONResponse(answer)

    @app.post("/v1/sessions", status_code=201)
    def new_session(who: Caller = Depends(service.caller("ask"))) -> dict[str, str]:
        """Start a support conversation; pass its `session_id` with each question."""
        return {"session_id": service.sessions.create(who.tenant)}

    @app.get("/v1/sessions/{session_id}")
    def get_session(session_id: Identifier, who: Caller = Depends(service.caller("ask"))) -> dict:
        """A conversation's turns: question, how it was read, answer, decision, trace id."""
        session = service.sessions.get(session_id, who.tenant)
        if session is None:
            raise HTTPException(404, f"no session {session_id!r}")
        return session

    @app.get("/v1/handoffs")
    def handoffs(limit: int = 50, who: Caller = Depends(service.caller("admin"))) -> list[dict]:
        """The newest handoff tickets (of the key's tenant), for the help desk."""
        desk = service.pipeline.handoffs
        return [t.to_dict() for t in desk.tickets(min(max(limit, 1), 500), who.tenant)]

    @app.get("/v1/handoffs/{ticket_id}")
    def handoff(ticket_id: Identifier, who: Caller = Depends(service.caller("ask"))) -> dict:
        """One handoff ticket, with the conversation it hands over."""
        ticket = service.pipeline.handoffs.ticket(ticket_id, who.tenant)
        if ticket is None:
            raise HTTPException(404, f"no handoff ticket {ticket_id!r}")
        record = ticket.to_dict()
        if ticket.session_id is not None:
            record["conversation"] = service.sessions.get(ticket.session_id, who.tenant)
        return record

    @app.post("/v1/search")
    def search(
        request: SearchRequest, who: Caller = Depends(service.caller("ask"))
    ) -> JSONResponse:
        """The passages relevant to a question (retrieval and the relevance floor only), served
        apart from answers, so that they never wait for the model."""
        documents = service.run("search", who, lambda p: p.search(request.question, who.tenant))
        return JSONResponse(
            {
                "question": request.question,
                "passages": [passage(d) for d in documents[: request.top_k]],
            }
        )

    @app.post("/v1/feedback")
    def feedback(request: FeedbackRequest, who: Caller = Depends(service.caller("ask"))) -> dict:
        """Store a thumbs up or down (and a comment) with the answer's audit record."""
        audit = service.pipeline.audit
        if audit is None:
            raise HTTPException(409, "feedback is stored with the audit log: set audit.enabled")
        if not audit.feedback(request.trace_id, request.rating, request.comment, who.tenant):
            raise HTTPException(404, f"no answer with trace id {request.trace_id!r}")
        return {"trace_id": request.trace_id, "rating": request.rating}

    @app.post("/v1/chat/completions", response_model=None)
    def chat_completions(
        request: ChatRequest, who: Caller = Depends(service.caller("ask"))
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
            answer = service.run(
                "model", who, lambda p: converse(p, question, who, session, earlier)
            )
            service.metrics.answer(answer)
            return JSONResponse(completion(answer, request.model))
        events: queue.Queue = queue.Queue()

        def work(pipeline: QAPipeline) -> None:
            try:
                answer = converse(pipeline, question, who, session, earlier, events.put)
                events.put({"type": "final", "answer": answer})
            # Documented fallback: whatever fails ends the stream at once with what failed
            # (`Service.failure` logs and counts what is not docent's own error).
            except Exception as e:  # noqa: BLE001
                status, message = service.failure(e, "stream")
                events.put({"type": "error", "status": status, "message": message})

        deadline = time.monotonic() + service.config.request_timeout
        future = service.submit("model", who, work)
        # Whatever way the work ends (even one no handler above sees), the stream learns it.
        future.add_done_callback(lambda _: events.put({"type": "ended"}))
        writer = ChunkWriter(f"chatcmpl-{uuid.uuid4().hex}", request.model)

        def stream():
            yield writer.role()
            while True:
                try:
                    event = events.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    future.cancel()
                    service.metrics.rejected.labels("timeout").inc()
                    yield writer.error(
                        f"no answer within {service.config.request_timeout:.0f} s", "timeout", 504
                    )
                    break
                if event["type"] == "ended":
                    service.metrics.failures.labels("stream").inc()
                    yield writer.error(
                        "the answer was stopped before it ended", "docent_error", 500
                    )
                    break
                if event["type"] == "final":
                    service.metrics.answer(event["answer"])
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
        if session_id is not None and not service.sessions.exists(session_id, who.tenant):
            raise HTTPException(404, f"no session {session_id!r}: create one with /v1/sessions")
        return session_id

    def converse(
        pipeline: QAPipeline,
        question: str,
        who: Caller,
        session: str | None,
        history: list[str] | None = None,
        on_event: Callable[[dict], None] | None = None,
    ) -> dict[str, Any]:
        """Answer in the session's context (or `history`'s), and add the turn to it; the
        answer's trace as a client is shown it (no server folder in it)."""
        sessions = service.sessions
        if session is not None:
            history = sessions.history(session)
        answer = pipeline.ask(
            question, tenant=who.tenant, on_event=on_event, history=history, session_id=session
        )
        if session is not None:
            sessions.append(session, answer)
        return service.redact_all(answer.to_dict())
