"""The model registry: generators, token counters, router cards and breakers from the config."""

from typing import Any

from components.errors import ConfigError
from components.generation.context_packer import PROMPT_FRAMES, ContextPacker
from components.generation.fallback_generator import FallbackGenerator, ModelSlot
from components.generation.llama_cpp_generator import LlamaCppGenerator
from components.generation.openai_completion_generator import OpenAICompletionGenerator
from components.routing.circuit_breaker import CircuitBreaker
from components.routing.model_router import ModelCard, ModelRouter
from components.shipped_models import gguf_model_path
from pipelines.config import ModelSettings, Settings

# A base model continues the pattern of the prompt; these end its answer.
STOP = ["\n", "Question:", "Context:", "Customer:"]


class ModelRegistry:
    """Every configured model, ready to route to and call.

    For each model: a `ModelCard` for the router, a generator (in process for llama_cpp, over
    HTTP for openai), a `ContextPacker` that measures prompts with that model's tokenizer, and
    a `ModelSlot` with its retry policy and circuit breaker. The breakers live as long as the
    registry, so a failing model stays skipped across requests until its cool-down ends.

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
            # For a llama_cpp model this is its own GGUF, which also runs it and measures its
            # prompts.
            gguf = _tokenizer_path(name, model)
            generator = _generator(model, gguf)
            in_process = model.provider == "llama_cpp"
            self.packers[name] = ContextPacker(
                model_path=None if in_process else gguf,
                context_window=model.context_window,
                max_new_tokens=model.max_new_tokens,
                generator=generator if in_process else None,
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
            )
        self.router = ModelRouter(list(self.cards.values()))
        self.chain = FallbackGenerator(slots)

    def warm_up(self) -> None:
        """Load local models and tokenizers now rather than on the first request."""
        for name, slot in self.chain.slots.items():
            self.packers[name].warm_up()
            slot.generator.warm_up()

    def count_tokens(self, name: str, text: str) -> int:
        """The size of a prompt in `name`'s tokens (with the beginning-of-text token)."""
        return self.packers[name].count_tokens(text) + 1


def _tokenizer_path(name: str, model: ModelSettings) -> str | None:
    """The GGUF whose vocabulary counts tokens for the model, or None to estimate."""
    source = model.model if model.provider == "llama_cpp" else model.tokenizer
    if source is None:
        return None
    try:
        return gguf_model_path(source)
    except ConfigError as e:
        field = "model" if model.provider == "llama_cpp" else "tokenizer"
        raise ConfigError(f"models.{name}.{field}: {e}") from e


def _generator(model: ModelSettings, gguf: str | None) -> Any:
    """The model's generator; `gguf` is the model file of a llama_cpp model."""
    if model.provider == "llama_cpp":
        return LlamaCppGenerator(
            model_path=gguf or "",
            context_window=model.context_window,
            max_new_tokens=model.max_new_tokens,
            temperature=model.temperature,
            stop=STOP,
            threads=model.threads,
            cached_prefixes=PROMPT_FRAMES,
        )
    return OpenAICompletionGenerator(
        base_url=model.base_url or "",
        model=model.model,
        api_key_env=model.api_key_env,
        timeout=model.timeout,
        max_new_tokens=model.max_new_tokens,
        temperature=model.temperature,
        stop=STOP,
        structured_output=model.structured_output,
    )
