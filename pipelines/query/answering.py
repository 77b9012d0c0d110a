"""Answering from passages: pack them for each model, generate along the fallback chain, cite
and verify (or anchor an extractive model's span), escalate weak answers, abstain with the
reason when nothing is left."""

from collections.abc import Callable
from typing import Any

from haystack import Document

from components.errors import AllModelsFailedError, ModelsBusyError
from components.generation.cited_answer_builder import ABSTAIN, CitedAnswerBuilder
from components.generation.extractive_answer_builder import ExtractiveAnswerBuilder
from components.generation.fallback_generator import Budget, ChainResult, ModelCall
from components.generation.sentence_selector import SentenceSelector
from components.verification.support_verifier import SupportVerifier
from pipelines import prompts, timing
from pipelines.answer import Answer
from pipelines.config import RouteSettings, Settings
from pipelines.query.records import citation, extracted, quote, record_skips, refusal
from pipelines.registry import ModelRegistry
from pipelines.streaming import Event, StreamRelay


class Answering:
    """The models' side of a request: `answer_from` passages (the rag route's generate, cite,
    verify and escalate loop), `complete` a prompt (direct routes, batch tasks), `generate`
    along the fallback chain with every call recorded in the answer, and `abstain`."""

    def __init__(self, settings: Settings, registry: ModelRegistry, embedder_path: str) -> None:
        self.settings = settings
        self.registry = registry
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

    def warm_up(self) -> None:
        """Load the verifier's and the sentence selector's encoders now."""
        self._verifier.warm_up()
        self._selector.warm_up()

    def answer_from(
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
        record_skips(answer, plan.skipped)
        remaining = list(plan.order)
        if skip_first is not None and len(remaining) > 1:
            answer.models_tried.append(ModelCall(remaining.pop(0), "skipped", skip_first).to_dict())
        best: tuple[float, str, dict[str, Any], Any, str] | None = None
        failures: list[str] = []
        while remaining:
            with timing.stage("generate"):
                result = self.generate(
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
                check = extracted(cited)
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
                self.abstain(question, answer, "the request's budget is spent", kind="budget")
                return
            raise self._no_model(failures or [r for _, r in plan.skipped], answer)
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
            if "extractive" in check:
                why = refusal(check["extractive"], self._extract)
            else:
                why = f"the best answer scored {score:.2f} in verification"
            if not cited.meta["supported"] and "extractive" not in check:
                why += " (no sentence of it could be cited to a passage)"
            if over_budget:
                why += "; the request's budget is spent"
            answer.verification["rejected"] = {"model": model, "draft": draft, "why": why}
            # The sentence most like the question says more than the best passage's start.
            quoted = sorted(sentences, key=lambda d: -d.meta.get("sentence_score", 0.0)) or relevant
            self.abstain(question, answer, why, kind="unverified", passages=quoted)
            return
        answer.model = model
        answer.answer = cited.data
        answer.data = value
        answer.supported = True
        answer.decision = "pass"
        answer.citations = [
            citation(number, doc) for number, doc in enumerate(cited.documents, start=1)
        ]

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
            verdict = self.generate(
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

    def generate(
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

    def complete(
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
        record_skips(answer, plan.skipped)
        with timing.stage("generate"):
            result = self.generate(
                {name: prompt for name in plan.order},
                answer,
                budget,
                json_schema=json_schema,
                prompt_tokens=tokens,
                on_event=relay,
            )
        if result.reply is None:
            raise self._no_model(result.reasons or [r for _, r in plan.skipped], answer)
        answer.model = result.model
        answer.answer = result.reply
        answer.data = result.value

    def _no_model(self, reasons: list[str], answer: Answer) -> AllModelsFailedError:
        """The error of a request no model answered: ModelsBusyError when a model was passed
        over for its full waiting line (try again shortly), else what to check."""
        if any(call["outcome"] == "busy" for call in answer.models_tried):
            return ModelsBusyError(reasons, "Every model that could answer is busy; retry shortly.")
        return AllModelsFailedError(reasons, self.registry.advice(answer.models_tried))

    def abstain(
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
                f"\u201c{quote(best)}\u201d [1]"
            )
            answer.citations = [citation(1, best)]
        if answer.verification is None:
            answer.verification = {}
        answer.verification.update(reason=reason, abstain_reason=kind)
        if self.settings.handoff.offer_on_abstain:
            answer.handoff_offered = True
            answer.answer = f"{answer.answer} {self.settings.handoff.offer_message}"
