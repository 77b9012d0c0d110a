"""The routes that answer without the documents: `direct` (a model replies, or extracts JSON
of the route's schema), `handoff` (a ticket for a person) and `reply`/`refuse` (the route's
message). Each is a component of the query pipeline whose output is the request's `Answer`."""

import json
from typing import Any

from haystack import component

from components.routing.handoff_desk import HandoffDesk
from components.safety.pii_masker import PiiMasker
from pipelines import prompts
from pipelines.answer import Answer
from pipelines.config import Settings
from pipelines.query.answering import Answering
from pipelines.query.graph import Configured
from pipelines.query.turn import Turn


@component
class DirectAnswer(Configured):
    """Generate without retrieval along the route's chain: a conversational reply, or JSON of
    the route's `json_schema` (in `answer.data`)."""

    def __init__(self, answering: Answering) -> None:
        self.answering = answering

    @component.output_types(answer=Answer)
    def run(self, query: str, turn: Turn) -> dict[str, Any]:
        route = turn.route
        if route.json_schema is not None:
            schema = json.dumps(route.json_schema)
            prompt = prompts.EXTRACT.format(schema=schema, question=query)
        else:
            prompt = prompts.DIRECT.format(question=query)
        answer = turn.answer
        self.answering.complete(
            prompt, route.needs, route.models, route.json_schema, answer, turn.budget, turn.relay
        )
        answer.decision = "extract" if route.json_schema is not None else "direct"
        return {"answer": answer}


@component
class Handoff(Configured):
    """Hand the conversation to a person: a ticket at the desk (the question masked with
    `safety.mask_pii`), recorded in the answer, and the route's message."""

    def __init__(self, settings: Settings, desk: HandoffDesk, masker: PiiMasker | None) -> None:
        self.settings = settings
        self.desk = desk
        self.masker = masker

    @component.output_types(answer=Answer)
    def run(self, query: str, turn: Turn) -> dict[str, Any]:
        answer = turn.answer
        intent = answer.intent["name"] if answer.intent else None
        text = self.masker.run(text=query)["text"] if self.masker else query
        ticket = self.desk.open_ticket(
            question=text,
            intent=intent,
            reason="the request asks for a person",
            trace_id=answer.trace_id,
            tenant=turn.tenant,
            session_id=turn.session_id,
        )
        answer.handoff = ticket.to_dict()
        answer.answer = turn.route.message or self.settings.handoff.message
        answer.decision = "handoff"
        return {"answer": answer}


@component
class Reply(Configured):
    """Answer with the route's message: a `reply`, or a `refuse` (the default for an intent
    without a route). `query` only says the router chose this route."""

    @component.output_types(answer=Answer)
    def run(self, query: str, turn: Turn) -> dict[str, Any]:
        answer = turn.answer
        answer.answer, answer.decision = turn.route.message or "", turn.route.type
        return {"answer": answer}
