"""The `llama_cpp` provider: a GGUF model run in docent's process by llama-cpp-python."""

from typing import TYPE_CHECKING, Any

from components.errors import ConfigError
from pipelines.providers import ModelRequest, Provider

if TYPE_CHECKING:
    from pipelines.config import ModelSettings


def build(request: ModelRequest) -> Any:
    """A `LlamaCppGenerator` over the model's GGUF (`model`: a shipped name or a path), which
    keeps docent's prompt frames evaluated between calls; nothing loads until `warm_up`.

    :raises ConfigError: `model` names no GGUF file.
    """
    from components.generation.context_packer import PROMPT_FRAMES
    from components.generation.llama_cpp_generator import LlamaCppGenerator
    from components.shipped_models import gguf_model_path

    settings = request.settings
    try:
        path = gguf_model_path(settings.model)
    except ConfigError as e:
        raise ConfigError(f"models.{request.name}.model: {e}") from e
    return LlamaCppGenerator(
        model_path=path,
        context_window=settings.context_window,
        max_new_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
        stop=list(request.stop),
        threads=settings.threads,
        cached_prefixes=PROMPT_FRAMES,
    )


def check(settings: "ModelSettings") -> None:
    """A model in this process has no endpoint."""
    if settings.base_url:
        raise ValueError("base_url is for provider openai; llama_cpp runs in process")


provider = Provider(name="llama_cpp", build=build, in_process=True, check=check)
