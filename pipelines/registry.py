"""The model registry: generators, token counters, router cards and breakers from the config."""

from typing import Any

from components.errors import ConfigError
from components.generation.context_packer import ContextPacker
from components.generation.fallback_generator import FallbackGenerator, ModelSlot
from components.routing.circuit_breaker import CircuitBreaker
from components.routing.model_router import ModelCard, ModelRouter
from components.shipped_models import gguf_model_path
from pipelines.config import ModelSettings, Settings
from pipelines.providers import ModelRequest, get_provider

# A base model continues the pattern of the prompt; these end its answer.
STOP = ("\n", "Question:", "Context:", "Customer:")


class ModelRegistry:
    """Every configured model, ready to route to and call.

    For each model: a `ModelCard` for the router, a generator built by the model's provider
    (`pipelines.providers`: in process for llama_cpp, over HTTP for openai), a `ContextPacker`
    that measures prompts with that model's tokenizer, and
    a `ModelSlot` with its retry policy, circuit breaker and bound on calls at once
    (`max_concurrency`). The breakers live as long as the registry, so a failing model stays
    skipped across requests until its cool-down ends.

    Usage:
    ```python
    registry = ModelRegistry(settings)
    plan = registry.router.plan("answer", {"gemma-3-270m": 900})
    result = registry.chain.run({"gemma-3-270m": prompt})
    ```
    """

    def __init__(self, settings: Settings) -> None:
        """Build the registry; local models load on first use."""
        self.settings = settings
        self.cards: dict[str, ModelCard] = {}
        self.packers: dict[str, ContextPacker] = {}
        slots: dict[str, ModelSlot] = {}
        for name, model in settings.models.items():
            card = ModelCard(
                name=name,
                context_window=model.context_window,
                max_new_tokens=model.max_new_tokens,
                price_in=model.price_in,
                price_out=model.price_out,
                capabilities=tuple(model.capabilities),
            )
            self.cards[name] = card
            generator = get_provider(model.provider).build(
                ModelRequest(name=name, settings=model, stop=STOP)
            )
            # A generator with its own tokenizer (llama_cpp's) measures its prompts; for
            # another, the GGUF named by `tokenizer` does, or an estimate.
            counts = callable(getattr(generator, "count_tokens", None))
            self.packers[name] = ContextPacker(
                model_path=None if counts else _tokenizer_path(name, model),
                context_window=model.context_window,
                max_new_tokens=model.max_new_tokens,
                generator=generator if counts else None,
            )
            slots[name] = ModelSlot(
                card=card,
                generator=generator,
                retries=model.retries,
                backoff=model.backoff,
                breaker=CircuitBreaker(
                    failure_threshold=settings.breaker.failure_threshold,
                    cooldown_seconds=settings.breaker.cooldown_seconds,
                ),
                max_concurrency=model.concurrency,
            )
        self.router = ModelRouter(list(self.cards.values()))
        self.chain = FallbackGenerator(slots)

    def warm_up(self) -> None:
        """Load local models and tokenizers now rather than on the first request."""
        for name, slot in self.chain.slots.items():
            self.packers[name].warm_up()
            slot.generator.warm_up()

    def advice(self, calls: list[dict[str, Any]]) -> str:
        """What to do when no model could answer, fitting the models that failed among
        `calls` (`ModelCall.to_dict()`s): endpoints to check that they run and can be
        reached, in-process llama.cpp models whose GGUF file it must be able to load and
        run, or another provider's in-process models; a fallback model in any case."""
        outcomes = {
            c["model"]: c["outcome"]
            for c in calls
            if c["outcome"] not in ("ok", "skipped", "weak_answer", "busy")
        }
        models = self.settings.models
        failed = [n for n in sorted(outcomes) if n in models]
        endpoints = [n for n in failed if not models[n].in_process]
        local = [n for n in failed if models[n].in_process and models[n].provider == "llama_cpp"]
        other = [n for n in failed if models[n].in_process and n not in local]
        steps = []
        if endpoints:
            step = (
                f"Check that the model endpoints are running and reachable ({', '.join(endpoints)})"
            )
            if any(outcomes[n] == "client_error" for n in endpoints):
                step += ", and that their API keys and model names are right"
            steps.append(step)
        if local:
            steps.append(
                f"{', '.join(local)} run{'s' if len(local) == 1 else ''} in this process "
                "(llama.cpp): the reason above is llama.cpp's; check that "
                f"{', '.join(f'models.{n}.model' for n in local)} is a GGUF file it can load "
                "and that the request suits it (a JSON schema llama.cpp's grammar supports, a "
                "prompt that fits its context window)"
            )
        for name in other:
            steps.append(
                f"{name} runs in this process with the provider {models[name].provider!r}: the "
                "reason above is the provider's; check the model's settings against what that "
                "provider's package documents"
            )
        if not steps:
            return "Add a fallback model to the configuration."
        return "; ".join(steps) + "; or add a fallback model to the configuration."

    def count_tokens(self, name: str, text: str) -> int:
        """The size of a prompt in `name`'s tokens (with the beginning-of-text token)."""
        return self.packers[name].count_tokens(text) + 1


def _tokenizer_path(name: str, model: ModelSettings) -> str | None:
    """The GGUF (`tokenizer`) whose vocabulary counts tokens for the model, or None to
    estimate."""
    if model.tokenizer is None:
        return None
    try:
        return gguf_model_path(model.tokenizer)
    except ConfigError as e:
        raise ConfigError(f"models.{name}.tokenizer: {e}") from e
