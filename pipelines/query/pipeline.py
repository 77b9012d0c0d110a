"""The query pipeline: classify, route, retrieve, generate with fallbacks, verify, escalate."""

import time
import uuid
from collections.abc import Callable
from typing import Any

from haystack import Document, logging

from components.conversation.follow_up_resolver import FollowUpResolver
from components.errors import ConfigError, DocentError, StoreError
from components.gates.audit_log import AuditLog
from components.generation.fallback_generator import Budget
from components.routing.handoff_desk import HandoffDesk
from components.safety.pii_masker import PiiMasker
from components.shipped_models import embedding_dimension, embedding_model_path
from ingest.manifest import Manifest
from ingest.store import Store, open_store
from pipelines import timing
from pipelines.answer import Answer
from pipelines.config import NO_INTENTS, RouteSettings, Settings
from pipelines.query import graph
from pipelines.query.answering import Answering
from pipelines.query.intents import IntentRoute, build_classifier
from pipelines.query.rag import RagAnswer
from pipelines.query.routes import DirectAnswer, Handoff, Reply
from pipelines.query.search import HybridSearch
from pipelines.query.turn import Turn
from pipelines.registry import ModelRegistry
from pipelines.streaming import Event, StreamRelay

logger = logging.getLogger(__name__)


class QAPipeline:
    """Answer requests: classify the intent, follow its route, and record every decision.

    A `rag` route retrieves with hybrid search (MiniLM dense + BM25 sparse, fused with RRF),
    drops chunks below the relevance floor, packs the best into each candidate model's context
    window (measured with that model's tokenizer), and asks the cheapest capable model; on an
    error, timeout, rate limit or unusable reply the next model takes over (see
    `FallbackGenerator`). The verifier then scores how well the answer's sentences are
    supported by the packed passages: below the threshold the answer is escalated to the next
    model of the chain; when none is left or the budget is spent, docent abstains ("The
    documents do not say.") and, if configured, offers a human. `direct`, `handoff`, `reply`
    and `refuse` routes do what their names say. The `Answer` carries the intent, route, every
    model call with tokens, cost and seconds, the verification, timings and a trace id.

    The steps run as one Haystack Pipeline, `query_pipeline` (see `pipelines.query.graph`):
    the configuration's `query.pipeline` may name a YAML that adds components of its own.

    Usage:
    ```python
    qa = QAPipeline.from_settings(load_settings("configs/support.yaml"))
    answer = qa.ask("How long is the password reset link valid?")
    answer.answer, answer.citations, answer.decision, answer.cost, answer.models_tried
    ```
    """

    def __init__(self, settings: Settings, store: Store, routing: bool = True) -> None:
        """Build the pipeline over an open store; models load on `warm_up` or first use.

        :param routing: check that every intent of the classifier has a route (a pipeline
            that answers needs one); False for a pipeline that only classifies.
        """
        self.settings = settings
        self.store = store
        embedder_path = embedding_model_path(settings.embedding.model)
        self.registry = ModelRegistry(settings)
        self.searcher = HybridSearch(settings, store, embedder_path)
        self.answering = Answering(settings, self.registry, embedder_path)
        self._classifier = build_classifier(settings, embedder_path, routing)
        self._desk = HandoffDesk(
            path=settings.handoff_path,
            webhook_url=settings.handoff.webhook_url,
            timeout=settings.handoff.timeout,
        )
        self._masker = PiiMasker() if settings.safety.mask_pii else None
        self._follow_up = FollowUpResolver()
        self._audit = AuditLog(path=settings.audit_path) if settings.audit.enabled else None
        parts = {
            "classify": IntentRoute(settings, self._classifier, self.answering),
            "search": self.searcher,
            "answer": RagAnswer(settings, self.answering, self.check_ingested),
            "direct": DirectAnswer(self.answering),
            "handoff": Handoff(settings, self._desk, self._masker),
            "reply": Reply(),
        }
        query = settings.query
        if query.pipeline is None:
            self.query_pipeline = graph.built_in(parts, settings.safety.filter_injections)
        else:
            self.query_pipeline = graph.load(query.pipeline, parts, query.modules)

    @property
    def handoffs(self) -> HandoffDesk:
        """The desk handoff tickets are recorded at."""
        return self._desk

    @property
    def intents(self) -> list[str]:
        """The intents the classifier knows, sorted; empty when none are configured."""
        if self._classifier is None:
            return []
        return sorted({intent for _, intent in self._classifier.examples})

    @property
    def audit(self) -> AuditLog | None:
        """The audit log answers are recorded in, or None when `audit.enabled` is off."""
        return self._audit

    @classmethod
    def from_settings(cls, settings: Settings, routing: bool = True) -> "QAPipeline":
        """Open the configured store and build the pipeline over it (`routing`: see
        `__init__`)."""
        dim = embedding_dimension(embedding_model_path(settings.embedding.model))
        bound = Manifest(settings.manifest_path, settings.store.collection).bound_model()
        if bound and bound != (settings.embedding.model, dim):
            raise StoreError(
                f"the collection {settings.store.collection!r} was filled with the embedding "
                f"model {bound[0]!r}, but the configuration asks for "
                f"{settings.embedding.model!r}; questions must be embedded with the same model. "
                "Set embedding.model back, or re-ingest with `docent ingest --rebuild`"
            )
        store = open_store(settings.store, settings.store_path, dim)
        try:
            return cls(settings, store, routing)
        except BaseException:
            store.close()  # a configuration refused here must not keep the store held
            raise

    def warm_up(self) -> None:
        """Load every model now rather than on the first request."""
        self.query_pipeline.warm_up()  # the classifier, search, answering, user components
        self.registry.warm_up()

    def ask(
        self,
        question: str,
        tenant: str | None = None,
        on_event: Callable[[Event], None] | None = None,
        history: list[str] | None = None,
        session_id: str | None = None,
    ) -> Answer:
        """Answer `question` along the route of its intent.

        :param tenant: search only the chunks ingested for this tenant.
        :param on_event: receives the answer as it streams (see `pipelines.streaming`):
            draft pieces, restarts, and at the end the rest of the final text. With
            `safety.mask_pii` nothing is streamed before the masked answer is final.
        :param history: the conversation's earlier questions, oldest first. A follow-up is
            read in their context (see `FollowUpResolver`): "What does it cover?" after a
            question about the warranty is answered as "What does the warranty cover?", and
            one that finds nothing alone is searched with the question before it;
            `answer.conversation` records how it was read.
        :param session_id: the conversation, recorded with a handoff ticket.

        Raises:
            DocentError: the question is empty, or a rag route finds nothing ingested.
            AllModelsFailedError: every model that could answer failed or was skipped.
        """
        question = question.strip()
        if not question:
            raise DocentError('the question is empty; ask something, e.g. docent ask "..."')
        trace_id = uuid.uuid4().hex
        with timing.request_span("docent.ask", **{"docent.trace_id": trace_id}) as span:
            answer = self._answer(question, trace_id, tenant, on_event, history, session_id)
            if self._audit is not None:
                record = answer.to_dict()
                if self._masker is not None:
                    record["question"] = self._masker.run(text=question)["text"]
                self._audit.record(record, tenant=tenant)
            span.set_attributes(
                {
                    "docent.decision": answer.decision,
                    "docent.route": answer.route,
                    "docent.intent": (answer.intent or {}).get("name", ""),
                    "docent.model": answer.model or "",
                    "docent.cost": answer.cost,
                }
            )
        return answer

    def _answer(
        self,
        question: str,
        trace_id: str,
        tenant: str | None,
        on_event: Callable[[Event], None] | None,
        history: list[str] | None,
        session_id: str | None,
    ) -> Answer:
        """The answer to a non-empty question, with its timings (see `ask`)."""
        started = time.perf_counter()
        answer = Answer(question, "", [], False, trace_id=trace_id)
        budget = Budget(self.settings.budget.max_tokens, self.settings.budget.max_cost)
        relay = StreamRelay(on_event) if on_event is not None else None
        with timing.collect() as timings:
            resolved, context_query = question, None
            if history:
                with timing.stage("follow_up"):
                    read = self._follow_up.run(question=question, history=history)
                resolved, context_query = read["question"], read["context_query"]
                answer.conversation = {"follow_up_of": history[-1], "read_as": resolved}
            # Unmasked drafts must not reach the client.
            turn = Turn(answer, budget, relay if self._masker is None else None, tenant, session_id)
            inputs = {
                "query": resolved,
                "tenant": tenant,
                "fallback_query": context_query,
                "turn": turn,
            }
            try:
                graph.run(self.query_pipeline, inputs)
            finally:
                answer.cost = round(budget.cost, 8)
            if self._masker is not None:
                answer.answer = self._masker.run(text=answer.answer)["text"]
        if relay is not None:
            why = (answer.verification or {}).get("reason")
            relay.finish(answer.answer, f"docent abstained: {why}" if why else "final answer")
        answer.timings = {name: round(seconds, 4) for name, seconds in timings.items()}
        answer.timings["total"] = round(time.perf_counter() - started, 4)
        return answer

    def complete(
        self,
        prompt: str,
        json_schema: dict[str, Any] | None = None,
        models: list[str] | None = None,
    ) -> Answer:
        """Continue `prompt` with the cheapest model that can, along the fallback chain.

        For batch tasks over documents (summaries, extraction) and evaluation judges: no
        routing, retrieval or verification; with `json_schema` the reply is JSON of that
        schema, in `answer.data`.

        :param models: only these models, in this order (default: every capable one).

        Raises:
            AllModelsFailedError: every model failed or was skipped.
        """
        answer = Answer(prompt, "", [], False, trace_id=uuid.uuid4().hex)
        budget = Budget(self.settings.budget.max_tokens, self.settings.budget.max_cost)
        try:
            needs = "extract" if json_schema is not None else "answer"
            self.answering.complete(prompt, needs, models, json_schema, answer, budget)
        finally:
            answer.cost = round(budget.cost, 8)
        answer.decision = "extract" if json_schema is not None else "direct"
        return answer

    def classify(self, text: str) -> dict[str, Any]:
        """The intent of `text` with the configured classifier: name, confidence, runner-up.

        Raises:
            ConfigError: the configuration has no intents.
        """
        if self._classifier is None:
            raise ConfigError(NO_INTENTS)
        result = self._classifier.run(text=text)
        return {
            "intent": result["intent"],
            "confidence": round(result["confidence"], 4),
            "runner_up": result["runner_up"],
            "runner_up_confidence": round(result["runner_up_confidence"], 4),
        }

    def answer_from(self, question: str, documents: list[Document]) -> Answer:
        """Answer `question` from the given `documents` (chunks of one file, say), as the rag
        route answers from retrieved ones: no retrieval, the same models, extractive or
        verified; for batch extraction. `answer.verification["extractive"]["span"]` holds
        the span an extractive model picked.

        Raises:
            AllModelsFailedError: every model that could answer failed or was skipped.
        """
        answer = Answer(question, "", [], False, trace_id=uuid.uuid4().hex)
        budget = Budget(self.settings.budget.max_tokens, self.settings.budget.max_cost)
        route = RouteSettings(type="rag")
        try:
            if documents:
                self.answering.answer_from(route, question, documents, answer, budget, None)
            else:
                self.answering.abstain(
                    question, answer, "no text to answer from", "no_relevant_passage"
                )
        finally:
            answer.cost = round(budget.cost, 8)
        return answer

    def search(self, question: str, tenant: str | None = None) -> list[Document]:
        """The chunks relevant to `question`, best first, each with its dense `similarity`.

        Hybrid retrieval and the relevance floor of the rag route, without generation.

        :param tenant: search only the chunks ingested for this tenant.
        """
        return self.searcher.run(query=question, tenant=tenant)["documents"]

    def check_ready(self) -> None:
        """Raise now what every question would fail on, before a model loads: without
        intents, every question takes the default intent's route; when that route retrieves,
        an empty collection answers none (see `check_ingested`).

        Raises:
            DocentError: the collection is empty, with what to do.
        """
        if self._classifier is not None:
            return
        route = self.settings.routes.get(self.settings.intents.default_intent)
        if route is not None and route.type == "rag":
            self.check_ingested()

    def check_ingested(self) -> None:
        """Raise when nothing was retrieved because the collection is empty (counting at
        every question would cost milliseconds at 100,000 chunks)."""
        if self.store.count_documents():
            return
        where = f"the collection {self.settings.store.collection!r} in {self.settings.store_path}"
        manifest = Manifest(self.settings.manifest_path, self.settings.store.collection)
        recorded = len(manifest.sources())
        if recorded:
            raise DocentError(
                f"{where} is empty, but the manifest records {recorded} ingested files: the "
                f"store was switched (store.kind is {self.settings.store.kind}) or deleted. "
                "Run `docent ingest` on the same folders to fill it again"
            )
        raise DocentError(f"{where} is empty: ingest documents first with `docent ingest PATH`")

    def close(self) -> None:
        """Release the store (one process, one open client per folder)."""
        self.store.close()
