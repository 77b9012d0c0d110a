"""The rag route's last component: gate on retrieval, answer from the passages, or abstain."""

from collections.abc import Callable
from typing import Any

from haystack import Document, component

from pipelines.answer import Answer
from pipelines.config import Settings
from pipelines.query.answering import Answering
from pipelines.query.graph import Configured
from pipelines.query.turn import Turn


@component
class RagAnswer(Configured):
    """Answer a request from the passages that reach it: the retrieval gate recorded (weak
    retrieval escalated past the first model), then `Answering.answer_from`; an abstention
    with the reason when no passage is relevant or the relevant ones only held instructions to
    the model. Its output is the request's `Answer`."""

    def __init__(
        self, settings: Settings, answering: Answering, check_ingested: Callable[[], None]
    ) -> None:
        """:param check_ingested: raises when the store is empty, called when the search
        retrieved nothing at all."""
        self.settings = settings
        self.answering = answering
        self.check_ingested = check_ingested

    def warm_up(self) -> None:
        """Load the verifier's and the sentence selector's encoders now."""
        self.answering.warm_up()

    @component.output_types(answer=Answer)
    def run(
        self,
        query: str,
        documents: list[Document],
        turn: Turn,
        top_similarity: float | None = None,
        fallback_used: bool = False,
        fallback_query: str | None = None,
        removed: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Gate, generate, verify; escalate weak answers; abstain when nothing is left.

        :param query: the question as the user asked it (a follow-up resolved).
        :param documents: the relevant passages, best first (`retrieval.passages` counts
            them).
        :param top_similarity: the best similarity of all retrieved (None: nothing was).
        :param fallback_used: the passages were found with `fallback_query`, recorded in the
            answer's conversation.
        :param removed: the sentences taken out of the passages as instructions to the model.
        """
        answer = turn.answer
        if top_similarity is None:
            self.check_ingested()
        if fallback_used and answer.conversation is not None:
            answer.conversation["searched"] = fallback_query
        if removed:
            answer.safety = {"removed_instructions": removed}
        gate = self.settings.retrieval
        top = top_similarity
        weak = gate.escalate_below is not None and top is not None and top < gate.escalate_below
        answer.retrieval = {
            "top_similarity": None if top is None else round(top, 4),
            "min_similarity": gate.min_similarity,
            "escalate_below": gate.escalate_below,
            "passages": len(documents),
            "verdict": "abstain" if not documents else "escalate" if weak else "pass",
        }
        if not documents:
            if removed:
                why = "the relevant passages only held instructions to the model"
            else:
                best = "nothing was retrieved" if top is None else f"the best scored {top:.2f}"
                why = (
                    f"no passage is relevant enough ({best}; retrieval.min_similarity is "
                    f"{gate.min_similarity})"
                )
            self.answering.abstain(query, answer, why, kind="no_relevant_passage")
            return {"answer": answer}
        skip_first = None
        if weak:
            skip_first = (
                f"retrieval {top:.2f} below retrieval.escalate_below {gate.escalate_below}: "
                "escalated to the next model"
            )
        self.answering.answer_from(
            turn.route, query, documents, answer, turn.budget, turn.relay, skip_first
        )
        return {"answer": answer}
