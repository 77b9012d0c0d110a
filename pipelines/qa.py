"""The query pipeline: classify, route, retrieve, generate with fallbacks, verify, escalate."""

import dataclasses
import json
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from haystack import Document, logging

from components.conversation.follow_up_resolver import FollowUpResolver
from components.embedding.backends import text_embedder
from components.embedding.bm25_sparse_text_embedder import Bm25SparseTextEmbedder
from components.errors import AllModelsFailedError, ConfigError, DocentError, StoreError
from components.gates.audit_log import AuditLog
from components.generation.cited_answer_builder import ABSTAIN, CitedAnswerBuilder
from components.generation.extractive_answer_builder import ExtractiveAnswerBuilder
from components.generation.fallback_generator import Budget, ChainResult, ModelCall
from components.generation.sentence_selector import SentenceSelector
from components.retrieval.rank_fusion import RankFusion
from components.retrieval.relevance_filter import RelevanceFilter
from components.retrieval.score_fusion import ScoreFusion
from components.routing.handoff_desk import HandoffDesk
from components.safety.injection_filter import InjectionFilter
from components.safety.pii_masker import PiiMasker
from components.shipped_models import embedding_dimension, embedding_model_path
from components.sources import source_name
from components.verification.support_verifier import SupportVerifier
from ingest.manifest import Manifest
from ingest.store import Store, dense_retriever, hybrid_retriever, open_store, sparse_retriever
from pipelines import prompts, timing
from pipelines.answer import Answer, Citation
from pipelines.config import NO_INTENTS, RouteSettings, Settings
from pipelines.registry import ModelRegistry
from pipelines.streaming import Event, StreamRelay

if TYPE_CHECKING:
    from components.intent.intent_classifier import IntentClassifier

logger = logging.getLogger(__name__)

SNIPPET_CHARS = 300
OUT_OF_SCOPE = "out_of_scope"
REFUSAL = "Sorry, I can only help with questions about our products and services."


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
        # Retrieval's components are called directly, in order, not through a Haystack
        # Pipeline: Pipeline.run deep-copies every input, checking each element of a list
        # against the Component protocol, which costs about 20 ms a search with 384-float
        # embeddings (bench/profiles.py); the stages are timed and traced the same way.
        retrieval = settings.retrieval
        self._embed_dense = _query_embedder(settings, embedder_path)
        self._embed_sparse = Bm25SparseTextEmbedder(language=settings.sparse.language)
        # RRF fuses in the store's hybrid search where it can be given the prefetch depth;
        # score fusion, and RRF of a store that cannot, fuse the two lists here.
        self._hybrid = None
        if retrieval.fusion == "rrf":
            self._hybrid = hybrid_retriever(store, retrieval.top_k, retrieval.prefetch)
        self._fusion: tuple[Any, Any, Any] | None = None
        if self._hybrid is None:
            score = retrieval.fusion == "score"
            depth = retrieval.candidates if score else retrieval.prefetch
            fusion = (
                ScoreFusion(
                    weights=retrieval.fusion_weights,
                    group_by=retrieval.fusion_group_by,
                    top_k=retrieval.top_k,
                )
                if score
                else RankFusion(top_k=retrieval.top_k)
            )
            self._fusion = (dense_retriever(store, depth), sparse_retriever(store, depth), fusion)
        self._relevance = RelevanceFilter(
            min_similarity=settings.retrieval.min_similarity,
            max_gap=settings.retrieval.max_similarity_gap,
        )
        self._cite = CitedAnswerBuilder(language=settings.sparse.language)
        self._selector = SentenceSelector(model=embedder_path, backend=settings.embedding.backend)
        self._extract = ExtractiveAnswerBuilder(
            language=settings.sparse.language, max_forced=settings.verification.max_forced
        )
        self._verifier = SupportVerifier(
            model=embedder_path,
            backend=settings.embedding.backend,
            language=settings.sparse.language,
            threshold=settings.verification.threshold,
        )
        self._classifier = _classifier(settings, embedder_path, routing)
        self._desk = HandoffDesk(
            path=settings.handoff_path,
            webhook_url=settings.handoff.webhook_url,
            timeout=settings.handoff.timeout,
        )
        self._masker = PiiMasker() if settings.safety.mask_pii else None
        self._follow_up = FollowUpResolver()
        self._injections = InjectionFilter() if settings.safety.filter_injections else None
        self._audit = AuditLog(path=settings.audit_path) if settings.audit.enabled else None

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
        self._embed_dense.warm_up()
        self._verifier.warm_up()
        self._selector.warm_up()
        if self._classifier is not None:
            self._classifier.warm_up()
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
            request = _Request(
                resolved,
                context_query,
                tenant,
                relay if self._masker is None else None,
                session_id,
            )
            with timing.stage("classify"):
                intent = self._classify(resolved, answer, budget)
            route = self.settings.routes.get(intent) or RouteSettings(
                type="refuse", message=REFUSAL
            )
            answer.route = route.type
            try:
                self._follow(route, request, answer, budget)
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

    def _classify(self, question: str, answer: Answer, budget: Budget) -> str:
        """The request's intent; recorded in the answer with its confidence and runner-up."""
        if self._classifier is None:
            return self.settings.intents.default_intent
        result = self._classifier.run(text=question)
        answer.intent = {
            "name": result["intent"],
            "confidence": round(result["confidence"], 4),
            "runner_up": result["runner_up"],
            "runner_up_confidence": round(result["runner_up_confidence"], 4),
        }
        tie_model = self.settings.intents.tie_break_model
        if (
            tie_model is not None
            and result["runner_up"] is not None
            and result["margin"] < self.settings.intents.tie_break_margin
        ):
            first = result["intent"] if result["intent"] != OUT_OF_SCOPE else result["runner_up"]
            second = result["runner_up"] if first != result["runner_up"] else result["intent"]
            prompt = prompts.TIE_BREAK.format(question=question, first=first, second=second)
            chosen = self._generate(
                {tie_model: prompt}, answer, budget, json_schema={"enum": [first, second]}
            )
            if chosen.value is not None:
                answer.intent["name"] = chosen.value
                answer.intent["tie_break"] = tie_model
        return answer.intent["name"]

    def _follow(self, route: RouteSettings, request: "_Request", answer: Answer, budget: Budget):
        """Carry out `route` for the request, filling `answer`."""
        if route.type in ("reply", "refuse"):
            answer.answer, answer.decision = route.message or "", route.type
        elif route.type == "handoff":
            intent = answer.intent["name"] if answer.intent else None
            self._hand_off(request, intent, "the request asks for a person", answer)
            answer.answer = route.message or self.settings.handoff.message
            answer.decision = "handoff"
        elif route.type == "direct":
            self._direct(route, request.question, answer, budget, request.relay)
        else:
            self._rag(route, request, answer, budget)

    def _direct(
        self,
        route: RouteSettings,
        question: str,
        answer: Answer,
        budget: Budget,
        relay: StreamRelay | None = None,
    ):
        """Generate without retrieval: a conversational reply, or JSON of the route's schema."""
        if route.json_schema is not None:
            schema = json.dumps(route.json_schema)
            prompt = prompts.EXTRACT.format(schema=schema, question=question)
        else:
            prompt = prompts.DIRECT.format(question=question)
        self._complete(prompt, route.needs, route.models, route.json_schema, answer, budget, relay)
        answer.decision = "extract" if route.json_schema is not None else "direct"

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
            self._complete(prompt, needs, models, json_schema, answer, budget)
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

    def _complete(
        self,
        prompt: str,
        needs: str,
        models: list[str] | None,
        json_schema: dict[str, Any] | None,
        answer: Answer,
        budget: Budget,
        relay: StreamRelay | None = None,
    ) -> None:
        """Route `prompt` to the cheapest capable model and fill the answer with its reply."""
        candidates = models or self.registry.cards
        tokens = {name: self.registry.count_tokens(name, prompt) for name in candidates}
        plan = self.registry.router.plan(needs, tokens, models)
        _record_skips(answer, plan.skipped)
        with timing.stage("generate"):
            result = self._generate(
                {name: prompt for name in plan.order},
                answer,
                budget,
                json_schema=json_schema,
                prompt_tokens=tokens,
                on_event=relay,
            )
        if result.reply is None:
            raise AllModelsFailedError(
                result.reasons or [r for _, r in plan.skipped],
                self.registry.advice(answer.models_tried),
            )
        answer.model = result.model
        answer.answer = result.reply
        answer.data = result.value

    def _rag(self, route: RouteSettings, request: "_Request", answer: Answer, budget: Budget):
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
            self._abstain(
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
                self._abstain(
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
        self._answer_from(route, question, relevant, answer, budget, relay, skip_first)

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
                self._answer_from(route, question, documents, answer, budget, None)
            else:
                self._abstain(question, answer, "no text to answer from", "no_relevant_passage")
        finally:
            answer.cost = round(budget.cost, 8)
        return answer

    def _answer_from(
        self,
        route: RouteSettings,
        question: str,
        relevant: list[Document],
        answer: Answer,
        budget: Budget,
        relay: StreamRelay | None,
        skip_first: str | None = None,
    ) -> None:
        """Pack `relevant`, generate, cite and verify (or anchor an extractive model's span);
        escalate weak answers; abstain when nothing is left. With `skip_first` (why), the
        first model of the plan is skipped for the next when there is one."""
        names = route.models or list(self.registry.cards)
        # A small model picks a span of the best sentences; only the documents' words show.
        extractive = (
            set()
            if route.json_schema is not None
            else {name for name in names if self.settings.models[name].extractive}
        )
        sentences: list[Document] = []
        if extractive or route.answer_style == "short":
            with timing.stage("select"):
                sentences = self._selector.run(question=question, documents=relevant)["documents"]
        packs: dict[str, dict[str, Any]] = {}
        with timing.stage("pack"):
            for name in names:
                packer = self.registry.packers[name]
                if name in extractive:
                    pack = packer.run(question=question, documents=sentences, style="short")
                elif route.answer_style == "short":
                    # A small model finds a short answer far more often in one sentence than
                    # in a whole passage (bench/xquad.py).
                    best = max(sentences, key=lambda d: d.meta.get("sentence_score", 0.0))
                    pack = packer.run(question=question, documents=[best], style="short")
                else:
                    pack = packer.run(question=question, documents=relevant, style="sentence")
                if pack["documents"]:
                    packs[name] = pack
        tokens = {name: pack["prompt_tokens"] for name, pack in packs.items()}
        plan = self.registry.router.plan(route.needs, tokens, route.models)
        _record_skips(answer, plan.skipped)
        remaining = list(plan.order)
        if skip_first is not None and len(remaining) > 1:
            answer.models_tried.append(ModelCall(remaining.pop(0), "skipped", skip_first).to_dict())
        best: tuple[float, str, dict[str, Any], Any, str] | None = None
        failures: list[str] = []
        while remaining:
            with timing.stage("generate"):
                result = self._generate(
                    {name: packs[name]["prompt"] for name in remaining},
                    answer,
                    budget,
                    json_schema=route.json_schema,
                    prompt_tokens=tokens,
                    # A small model's words are not shown, not even as a draft.
                    on_event=None if remaining[0] in extractive else relay,
                    # ... and it may only pick a span of the sentences it reads.
                    spans={
                        name: [d.content or "" for d in packs[name]["documents"]]
                        for name in remaining
                        if name in extractive
                    },
                )
            failures += result.reasons
            if result.reply is None:
                break
            remaining = remaining[remaining.index(result.model) + 1 :]
            documents = packs[result.model]["documents"]
            if result.model in extractive:
                with timing.stage("cite"):
                    cited = self._extract.run(
                        query=question,
                        replies=[result.reply],
                        documents=documents,
                        forced=result.meta.get("span_forced"),
                    )["answers"][0]
                check = _extracted(cited)
            else:
                with timing.stage("cite"):
                    cited = self._cite.run(
                        query=question, replies=[result.reply], documents=documents
                    )["answers"][0]
                check = self._verify(route, question, result.reply, documents)
            if check["supported"] and self.settings.verification.judge_model:
                check = self._judge(question, result.reply, documents, check, answer, budget)
            score = check["score"] if cited.meta["supported"] else 0.0
            if best is None or score > best[0]:
                best = (score, result.model, check, (cited, result.value), result.reply)
            if check["supported"] and cited.meta["supported"]:
                break
            weak_answer = ModelCall(
                result.model,
                "weak_answer",
                f"verification {score:.2f} below {self.settings.verification.threshold}",
            )
            answer.models_tried.append(weak_answer.to_dict())
            if relay is not None and remaining:
                relay.restart(f"{weak_answer.detail}: a stronger model answers", result.model)
        over_budget = bool(failures) and all("over budget" in line for line in failures)
        if best is None:
            if over_budget:
                self._abstain(question, answer, "the request's budget is spent", kind="budget")
                return
            raise AllModelsFailedError(
                failures or [r for _, r in plan.skipped], self.registry.advice(answer.models_tried)
            )
        score, model, check, (cited, value), draft = best
        answer.verification = {
            "score": round(score, 4),
            "threshold": self.settings.verification.threshold,
            # An answer refused without a sentence the verifier faulted (no citation held, or
            # the whole answer scored low): the whole draft is what could not be supported.
            "unsupported": check["unsupported"]
            or ([] if check["supported"] and cited.meta["supported"] else [draft]),
        }
        for key in ("judge", "extractive"):
            if key in check:
                answer.verification[key] = check[key]
        if not (check["supported"] and cited.meta["supported"]):
            answer.model = model
            if check.get("extractive", {}).get("refused") == "forced":
                why = (
                    "the model wanted to write something other than a span of the selected "
                    f"sentences (forced {check['extractive']['forced']:.2f} from its own choice)"
                )
            elif "extractive" in check:
                why = "the model's reply is not a span of the selected sentences"
            else:
                why = f"the best answer scored {score:.2f} in verification"
            if not cited.meta["supported"] and "extractive" not in check:
                why += " (no sentence of it could be cited to a passage)"
            if over_budget:
                why += "; the request's budget is spent"
            answer.verification["rejected"] = {"model": model, "draft": draft, "why": why}
            # The sentence most like the question says more than the best passage's start.
            quoted = sorted(sentences, key=lambda d: -d.meta.get("sentence_score", 0.0)) or relevant
            self._abstain(question, answer, why, kind="unverified", passages=quoted)
            return
        answer.model = model
        answer.answer = cited.data
        answer.data = value
        answer.supported = True
        answer.decision = "pass"
        answer.citations = [
            _citation(number, doc) for number, doc in enumerate(cited.documents, start=1)
        ]

    def search(self, question: str, tenant: str | None = None) -> list[Document]:
        """The chunks relevant to `question`, best first, each with its dense `similarity`.

        Hybrid retrieval and the relevance floor of the rag route, without generation.

        :param tenant: search only the chunks ingested for this tenant.
        """
        return self._search(question, tenant)[0]

    def _search(self, question: str, tenant: str | None) -> tuple[list[Document], float | None]:
        """The relevant chunks, and the best similarity of all retrieved (None: none was)."""
        filters = (
            {"field": "meta.tenant", "operator": "==", "value": tenant}
            if tenant is not None
            else None
        )
        with timing.component("embed_dense"):
            embedding = self._embed_dense.run(text=question)["embedding"]
        with timing.component("embed_sparse"):
            sparse = self._embed_sparse.run(text=question)["sparse_embedding"]
        if self._hybrid is not None:
            with timing.component("retrieve"):
                documents = self._hybrid.run(
                    query_embedding=embedding, query_sparse_embedding=sparse, filters=filters
                )["documents"]
        else:
            by_dense, by_sparse, fusion = self._fusion
            with timing.component("retrieve_dense"):
                dense = by_dense.run(query_embedding=embedding, filters=filters)["documents"]
            with timing.component("retrieve_sparse"):
                lexical = by_sparse.run(query_sparse_embedding=sparse, filters=filters)["documents"]
            with timing.component("retrieve"):
                documents = fusion.run(dense=dense, sparse=lexical)["documents"]
        with timing.component("filter"):
            kept = self._relevance.run(documents=documents, query_embedding=embedding)
        return kept["documents"], kept["top_similarity"]

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

    def _verify(self, route: RouteSettings, question: str, reply: str, documents: list[Document]):
        """The verifier's judgement, or a pass when verification is off for this request."""
        if not (self.settings.verification.enabled and route.verify) or route.json_schema:
            return {"score": 1.0, "supported": True, "unsupported": []}
        with timing.stage("verify"):
            return self._verifier.run(answer=reply, documents=documents, query=question)

    def _judge(
        self,
        question: str,
        reply: str,
        documents: list[Document],
        check: dict[str, Any],
        answer: Answer,
        budget: Budget,
    ) -> dict[str, Any]:
        """Put an answer that passed the offline check to the judge model; "no" fails it.

        The passages are given best first, as many as the judge's window holds.
        """
        judge = self.settings.verification.judge_model or ""
        card = self.registry.cards[judge]
        passages = [d.content or "" for d in documents]
        while True:
            prompt = prompts.JUDGE.format(
                passages="\n\n".join(passages), question=question, answer=reply
            )
            tokens = self.registry.count_tokens(judge, prompt)
            if tokens + card.max_new_tokens <= card.context_window or len(passages) == 1:
                break
            passages.pop()
        with timing.stage("judge"):
            verdict = self._generate(
                {judge: prompt},
                answer,
                budget,
                json_schema={"enum": ["yes", "no"]},
                prompt_tokens={judge: tokens},
            )
        judged = {**check, "judge": {"model": judge, "verdict": verdict.value}}
        if verdict.value != "yes":
            # No verdict (the judge failed) is no confirmation either.
            judged.update(score=0.0, supported=False, unsupported=[reply])
        return judged

    def _generate(
        self,
        prompts_by_model: dict[str, str],
        answer: Answer,
        budget: Budget,
        json_schema: dict[str, Any] | None = None,
        prompt_tokens: dict[str, int] | None = None,
        on_event: Callable[[Event], None] | None = None,
        spans: dict[str, list[str]] | None = None,
    ) -> ChainResult:
        """Run the fallback chain and add its calls to the answer's trace and token count."""
        result = self.registry.chain.run(
            prompts_by_model,
            prompt_tokens=prompt_tokens,
            json_schema=json_schema,
            budget=budget,
            on_event=on_event,
            spans=spans,
        )
        for call in result.calls:
            answer.models_tried.append(call.to_dict())
            answer.tokens["prompt"] += call.prompt_tokens
            answer.tokens["completion"] += call.completion_tokens
        return result

    def _abstain(
        self,
        question: str,
        answer: Answer,
        reason: str,
        kind: str,
        passages: list[Document] | None = None,
    ) -> None:
        """Answer that there is no answer, and why (`abstain_reason` in the trace).

        "The documents do not say." only when no passage was relevant (`kind`
        "no_relevant_passage"; "budget" when the budget ran out first); when relevant
        `passages` were found but no answer could be verified ("unverified"), the answer says
        so and quotes the most relevant passage, cited, for the reader to judge.
        """
        answer.decision = "abstain"
        answer.supported = False
        answer.answer = ABSTAIN
        if passages:
            best = passages[0]
            answer.answer = (
                "I could not verify an answer; the most relevant passage is: "
                f"\u201c{_quote(best)}\u201d [1]"
            )
            answer.citations = [_citation(1, best)]
        if answer.verification is None:
            answer.verification = {}
        answer.verification.update(reason=reason, abstain_reason=kind)
        if self.settings.handoff.offer_on_abstain:
            answer.handoff_offered = True
            answer.answer = f"{answer.answer} {self.settings.handoff.offer_message}"

    def _hand_off(
        self, request: "_Request", intent: str | None, reason: str, answer: Answer
    ) -> None:
        question = request.question
        text = self._masker.run(text=question)["text"] if self._masker else question
        ticket = self._desk.open_ticket(
            question=text,
            intent=intent,
            reason=reason,
            trace_id=answer.trace_id,
            tenant=request.tenant,
            session_id=request.session_id,
        )
        answer.handoff = ticket.to_dict()

    def close(self) -> None:
        """Release the store (one process, one open client per folder)."""
        self.store.close()


@dataclasses.dataclass
class _Request:
    """One request as the pipeline carries it: the question (a follow-up resolved), the
    conversation's text to search with when it alone finds nothing, whose request it is, where
    its drafts stream, and its conversation's id."""

    question: str
    context_query: str | None
    tenant: str | None
    relay: StreamRelay | None
    session_id: str | None = None


def _query_embedder(settings: Settings, model_path: str) -> Any:
    """The query embedder of the configured embedding backend."""
    return text_embedder(model_path, settings.embedding.backend)


def _extracted(cited: Any) -> dict[str, Any]:
    """The check of an extractive answer: supported exactly when it is the documents' words
    (a span of a selected sentence, or a yes/no read from one)."""
    meta = cited.meta
    supported = bool(meta["supported"])
    return {
        "score": 1.0 if supported else 0.0,
        "supported": supported,
        "unsupported": [] if supported else [meta["reply"]],
        "extractive": {
            key: meta[key]
            for key in ("method", "span", "sentence", "reply", "forced", "refused")
            if key in meta
        },
    }


def _citation(number: int, document: Document) -> Citation:
    return Citation(
        number=number,
        source=source_name(document.meta),
        page=document.meta.get("page"),
        section=document.meta.get("section", ""),
        snippet=(document.content or "")[:SNIPPET_CHARS],
        score=document.meta.get("similarity"),
    )


def _quote(document: Document) -> str:
    """A passage on one line without its title lines, cut after its last whole sentence
    within SNIPPET_CHARS (or at a word, with an ellipsis, when its first sentence is longer)."""
    titles = set((document.meta.get("section") or "").split(" > "))
    lines = (document.content or "").split("\n")
    body = [line for line in lines if line.strip() not in titles] or lines
    flat = " ".join(" ".join(body).split())
    if len(flat) <= SNIPPET_CHARS:
        return flat
    head = flat[:SNIPPET_CHARS]
    end = max(head.rfind(". "), head.rfind("? "), head.rfind("! "))
    if end > 0:
        return head[: end + 1]
    return head.rsplit(" ", 1)[0] + "\u2026"


def _record_skips(answer: Answer, skipped: list[tuple[str, str]]) -> None:
    for name, reason in skipped:
        answer.models_tried.append(ModelCall(name, "skipped", reason).to_dict())


def _classifier(
    settings: Settings, embedder_path: str, routing: bool = True
) -> "IntentClassifier | None":
    """The intent classifier over the configured examples, or None when there are none;
    with `routing`, every intent must have a route."""
    intents = settings.intents
    if not intents.configured:
        return None
    from components.intent.examples import load_examples
    from components.intent.intent_classifier import IntentClassifier

    examples = [(text, intent) for intent, texts in intents.examples.items() for text in texts]
    if intents.examples_file is not None:
        try:
            examples += load_examples(intents.examples_file)
        except (OSError, ValueError) as e:
            raise ConfigError(f"intents.examples_file: {e}") from e
    if routing:
        settings.check_routes(intent for _, intent in examples)
    kwargs = {}
    if intents.out_of_scope_threshold is not None:
        kwargs["out_of_scope_threshold"] = intents.out_of_scope_threshold
    return IntentClassifier(
        model=embedder_path,
        backend=settings.embedding.backend,
        examples=examples,
        out_of_scope_label=OUT_OF_SCOPE,
        cache_dir=str(settings.data_path / "cache" / "intents"),
        **kwargs,
    )
