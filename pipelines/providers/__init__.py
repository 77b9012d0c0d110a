"""Model providers, registered by name: what `models.NAME.provider` in the configuration means.

A provider is one module that defines a `Provider`: its name, a factory that builds the
generator of a configured model, and what docent must know about how it runs. docent's own
providers, `llama_cpp` (a GGUF in this process) and `openai` (any OpenAI-compatible endpoint),
are loaded the way a third party's are, from a `module:attribute` reference. Third-party
packages declare theirs in the entry-point group `docent.providers`, named after the provider:

```toml
[project.entry-points."docent.providers"]
acme = "docent_acme:provider"
```

An application can also call `register_provider(provider)` before it loads its configuration.
Lookups are lazy: docent's own providers are imported on first use (their modules import no
heavy library until they build a model), and the entry points are read only for a name that is
not registered yet, so start-up stays fast.

Usage:
```python
from pipelines.providers import ModelRequest, Provider, register_provider

def build(request: ModelRequest):
    return MyGenerator(model=request.settings.model, stop=list(request.stop))

register_provider(Provider(name="mine", build=build))
```
"""

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from components.errors import ConfigError

if TYPE_CHECKING:
    from pipelines.config import ModelSettings

ENTRY_POINT_GROUP = "docent.providers"
# docent's own providers, loaded as a third party's entry points are.
BUILTIN = {
    "llama_cpp": "pipelines.providers.llama_cpp:provider",
    "openai": "pipelines.providers.openai:provider",
}


@dataclass(frozen=True)
class ModelRequest:
    """What a provider's factory is given: one model of the configuration.

    :param name: the model's name under `models:`.
    :param settings: its settings (`provider`, `model`, `base_url`, `max_new_tokens`, ...).
    :param stop: sequences that end an answer in docent's completion prompts.
    """

    name: str
    settings: "ModelSettings"
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provider:
    """One kind of model: how to build its generator and how it runs.

    :param name: what `models.NAME.provider` says to pick it.
    :param build: makes the model's generator from a `ModelRequest`; a generator is a
        component whose `run(prompt, json_schema=None, streaming_callback=None)` returns
        `replies` and `meta` (see `components.generation.fallback_generator.Generator`),
        whose `warm_up()` loads what it needs, and which raises `ModelCallError` when a call
        fails. With a `count_tokens(text)` method it measures docent's prompts itself.
        Import heavy libraries inside `build`, not at the top of the provider's module.
    :param in_process: the model runs in docent's process (it answers one request at a
        time, and its rag answers are spans of the documents unless the model's
        `generation` says otherwise); False for a model behind an endpoint.
    :param check: validates a model's settings when the configuration loads; raises
        `ValueError` with a message that says what to change.
    """

    name: str
    build: Callable[[ModelRequest], Any]
    in_process: bool = False
    check: Callable[["ModelSettings"], None] | None = None


_registered: dict[str, Provider] = {}


def register_provider(provider: Provider) -> Provider:
    """Make `provider` available under its name; returns it.

    :raises ConfigError: another provider already has the name.
    """
    if not isinstance(provider, Provider):
        raise ConfigError(f"a provider must be a Provider, not {type(provider).__name__}")
    existing = find_provider(provider.name)
    if existing is not None and existing is not provider:
        raise ConfigError(
            f"a provider named {provider.name!r} is already registered; choose another name "
            "or unregister_provider() the first"
        )
    _registered[provider.name] = provider
    return provider


def unregister_provider(name: str) -> None:
    """Forget the provider `name` (a later lookup finds an entry point of that name again)."""
    _registered.pop(name, None)


def find_provider(name: str) -> Provider | None:
    """The provider registered as `name`, loading docent's own or an entry point's on first
    use; None when there is none.

    :raises ConfigError: an entry point of that name cannot be loaded, or does not name a
        `Provider` called `name`.
    """
    if name in _registered:
        return _registered[name]
    if name in BUILTIN:
        return _load(name, BUILTIN[name], "docent")
    for entry in _entry_points(name):
        dist = getattr(entry.dist, "name", None) or "an installed package"
        return _load(name, entry.value, dist)
    return None


def get_provider(name: str) -> Provider:
    """The provider registered as `name`.

    :raises ConfigError: there is none; the message lists the providers there are.
    """
    provider = find_provider(name)
    if provider is None:
        raise ConfigError(f"unknown provider {name!r}; {known_providers()}")
    return provider


def provider_names() -> list[str]:
    """The names of every provider: registered, docent's own and installed entry points (which
    are listed, not loaded)."""
    return sorted(set(_registered) | set(BUILTIN) | {entry.name for entry in _entry_points()})


def known_providers() -> str:
    """The providers there are, for an error message."""
    return (
        f"known: {', '.join(provider_names())}; installed packages add more through the "
        f"entry-point group {ENTRY_POINT_GROUP}"
    )


def _entry_points(name: str | None = None) -> list[Any]:
    from importlib.metadata import entry_points

    found = entry_points(group=ENTRY_POINT_GROUP)
    return [entry for entry in found if name is None or entry.name == name]


def _load(name: str, reference: str, origin: str) -> Provider:
    """Import the `Provider` that `reference` ("module:attribute") names and register it."""
    module, _, attribute = reference.partition(":")
    try:
        provider = getattr(import_module(module), attribute) if attribute else None
    except (ImportError, AttributeError) as e:
        raise ConfigError(
            f"the provider {name!r} of {origin} cannot be loaded from {reference}: {e}"
        ) from e
    if not isinstance(provider, Provider) or provider.name != name:
        raise ConfigError(
            f"the provider {name!r} of {origin} ({reference}) must be a Provider named {name!r}"
        )
    _registered[name] = provider
    return provider
