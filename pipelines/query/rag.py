"""The rag route: search, screen the passages for injected instructions, answer from them."""

import dataclasses
from collections.abc import Callable

from haystack import Document

from components.generation.fallback_generator import Budget
from components.safety.injection_filter import InjectionFilter
from pipelines import timing
from pipelines.answer import Answer
from pipelines.config import RouteSettings, Settings
from pipelines.query.answering import Answering
from pipelines.query.search import HybridSearch
from pipelines.streaming import StreamRelay


@dataclasses.dataclass
class Request:
    """One request as the pipeline carries it: the question (a follow-up resolved), the
    conversation's text to search with when it alone finds nothing, whose request it is, where
    its drafts stream, and its conversation's id."""

    question: str
    context_query: str | None
    tenant: str | None
    relay: StreamRelay | None
    session_id: str | None = None


class RagRoute:
    """Answer a request from the documents: hybrid search with the relevance gate (a
    follow-up that finds nothing alone is searched with the question before it), weak
    retrieval escalated past the first model, injected instructions removed, then
    `Answering.answer_from`; an abstention when nothing relevant is left."""

    def __init__(
        self,
        settings: Settings,
        searcher: HybridSearch,
        answering: Answering,
        check_ingested: Callable[[], None],
    ) -> None:
        """:param check_ingested: raises when the store is empty, called when a search
        retrieves nothing at all."""
        self.settings = settings
        self.searcher = searcher
        self.answering = answering
        self.check_ingested = check_ingested
        self._injections = InjectionFilter() if settings.safety.filter_injections else None

    def run(self, route: RouteSettings, request: Request, answer: Answer, budget: Budget) -> None:
        """Retrieve, generate, verify; escalate weak answers; abstain when nothing is left."""
        question, relay = request.question, request.relay
        relevant, top = self._search(question, request.tenant)
        if top is None:
            self.check_ingested()
        if not relevant and request.context_query is not None:
            # A follow-up that finds nothing alone ("What is not covered?") is searched
            # together with the question before it.
            relevant, top = self._search(request.context_query, request.tenant)
            if answer.conversation is not None:
                answer.conversation["searched"] = request.context_query
        gate = self.settings.retrieval
        weak = gate.escalate_below is not None and top is not None and top < gate.escalate_below
        answer.retrieval = {
            "top_similarity": None if top is None else round(top, 4),
            "min_similarity": gate.min_similarity,
            "escalate_below": gate.escalate_below,
            "passages": len(relevant),
            "verdict": "abstain" if not relevant else "escalate" if weak else "pass",
        }
        if not relevant:
            best = "nothing was retrieved" if top is None else f"the best scored {top:.2f}"
            self.answering.abstain(
                question,
                answer,
                f"no passage is relevant enough ({best}; retrieval.min_similarity is "
                f"{gate.min_similarity})",
                kind="no_relevant_passage",
            )
            return
        if self._injections is not None:
            with timing.stage("injections"):
                screened = self._injections.run(documents=relevant)
            if screened["removed"]:
                answer.safety = {"removed_instructions": screened["removed"]}
            relevant = screened["documents"]
            if not relevant:
                self.answering.abstain(
                    question,
                    answer,
                    "the relevant passages only held instructions to the model",
                    kind="no_relevant_passage",
                )
                return
        skip_first = None
        if weak:
            skip_first = (
                f"retrieval {top:.2f} below retrieval.escalate_below {gate.escalate_below}: "
                "escalated to the next model"
            )
        self.answering.answer_from(route, question, relevant, answer, budget, relay, skip_first)

    def _search(self, question: str, tenant: str | None) -> tuple[list[Document], float | None]:
        found = self.searcher.run(query=question, tenant=tenant)
        return found["documents"], found["top_similarity"]
