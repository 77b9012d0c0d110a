"""Intents of requests: the classifier built from the configured examples, and a request's
intent decided with it (a close call put to the tie-break model)."""

from typing import TYPE_CHECKING, Any

from haystack import component

from components.errors import ConfigError
from components.generation.fallback_generator import Budget
from pipelines import prompts
from pipelines.answer import Answer
from pipelines.config import RouteSettings, Settings
from pipelines.query.answering import Answering
from pipelines.query.graph import Configured
from pipelines.query.turn import Turn

if TYPE_CHECKING:
    from components.intent.intent_classifier import IntentClassifier

OUT_OF_SCOPE = "out_of_scope"
REFUSAL = "Sorry, I can only help with questions about our products and services."


@component
class IntentRoute(Configured):
    """Classify the request's intent and send its question down the branch of the intent's
    route (`rag`, `direct`, `handoff`, or `reply` for reply and refuse routes); an intent
    without a route is refused. The intent and the route are recorded in the turn."""

    def __init__(
        self,
        settings: Settings,
        classifier: "IntentClassifier | None",
        answering: Answering,
    ) -> None:
        self.settings = settings
        self.classifier = classifier
        self.answering = answering

    def warm_up(self) -> None:
        """Load the classifier's encoder now."""
        if self.classifier is not None:
            self.classifier.warm_up()

    @component.output_types(rag=str, direct=str, handoff=str, reply=str)
    def run(self, query: str, turn: Turn) -> dict[str, Any]:
        """`query` on the output of the chosen route's branch, and on no other."""
        answer = turn.answer
        intent = classify(
            self.classifier, self.settings, self.answering, query, answer, turn.budget
        )
        route = self.settings.routes.get(intent) or RouteSettings(type="refuse", message=REFUSAL)
        turn.route, answer.route = route, route.type
        # A refusal is a reply with the route's message: both end at `reply`.
        return {"reply" if route.type == "refuse" else route.type: query}


def classify(
    classifier: "IntentClassifier | None",
    settings: Settings,
    answering: Answering,
    question: str,
    answer: Answer,
    budget: Budget,
) -> str:
    """The request's intent; recorded in the answer with its confidence and runner-up, and
    decided by `intents.tie_break_model` when the two are close."""
    if classifier is None:
        return settings.intents.default_intent
    result = classifier.run(text=question)
    answer.intent = {
        "name": result["intent"],
        "confidence": round(result["confidence"], 4),
        "runner_up": result["runner_up"],
        "runner_up_confidence": round(result["runner_up_confidence"], 4),
    }
    tie_model = settings.intents.tie_break_model
    if (
        tie_model is not None
        and result["runner_up"] is not None
        and result["margin"] < settings.intents.tie_break_margin
    ):
        first = result["intent"] if result["intent"] != OUT_OF_SCOPE else result["runner_up"]
        second = result["runner_up"] if first != result["runner_up"] else result["intent"]
        prompt = prompts.TIE_BREAK.format(question=question, first=first, second=second)
        chosen = answering.generate(
            {tie_model: prompt}, answer, budget, json_schema={"enum": [first, second]}
        )
        if chosen.value is not None:
            answer.intent["name"] = chosen.value
            answer.intent["tie_break"] = tie_model
    return answer.intent["name"]


def build_classifier(
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
