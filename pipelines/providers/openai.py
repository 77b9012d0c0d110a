"""The `openai` provider: any OpenAI-compatible completions endpoint (OpenAI, vLLM, a llama.cpp
server, Ollama)."""

from typing import TYPE_CHECKING, Any

from pipelines.providers import ModelRequest, Provider

if TYPE_CHECKING:
    from pipelines.config import ModelSettings


def build(request: ModelRequest) -> Any:
    """An `OpenAICompletionGenerator` for the endpoint at `base_url`; the API key is read from
    the environment variable `api_key_env` when the first request is sent, never stored."""
    from haystack.utils import Secret

    from components.generation.openai_completion_generator import OpenAICompletionGenerator

    settings = request.settings
    api_key = None
    if settings.api_key_env:
        api_key = Secret.from_env_var(settings.api_key_env, strict=False)
    return OpenAICompletionGenerator(
        base_url=settings.base_url or "",
        model=settings.model,
        api_key=api_key,
        timeout=settings.timeout,
        max_new_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
        stop=list(request.stop),
        structured_output=settings.structured_output,
    )


def check(settings: "ModelSettings") -> None:
    """An endpoint needs its URL."""
    if not settings.base_url:
        raise ValueError("a model with provider openai needs base_url (e.g. http://host/v1)")


provider = Provider(name="openai", build=build, check=check)
