"""Model providers as a registry: a provider registered by a module or by an installed
package's entry point builds a model that answers through QAPipeline; an unknown name is a
configuration error that lists the known ones."""

import re
import sys
from typing import Any

import pytest
from haystack import component

from components.errors import AllModelsFailedError, ConfigError
from pipelines.config import Settings, load_settings
from pipelines.providers import (
    ModelRequest,
    Provider,
    find_provider,
    provider_names,
    register_provider,
    unregister_provider,
)
from pipelines.query.pipeline import QAPipeline

PROMPT = (
    "Context: Returns are accepted within 30 days. Orders ship from Rotterdam on weekdays.\n"
    "Question: Where do orders ship from?\nAnswer:"
)
_WORD = re.compile(r"\w+")


@component
class SentencePicker:
    """A model in this process that answers with the context sentence sharing most words with
    the question: a third party's provider in a dozen lines."""

    def __init__(self, *, stop: list[str] | None = None) -> None:
        self.stop = list(stop or [])

    def warm_up(self) -> None:
        """Nothing to load."""

    @component.output_types(replies=list[str], meta=list[dict[str, Any]])
    def run(
        self,
        prompt: str,
        json_schema: dict[str, Any] | None = None,
        streaming_callback: Any = None,
    ) -> dict[str, Any]:
        """Pick the sentence of the prompt's context most like its question."""
        context = prompt.split("Context:", 1)[1].split("Question:", 1)[0]
        question = set(_WORD.findall(prompt.split("Question:", 1)[1].lower()))
        sentences = [s.strip() for s in re.split(r"(?<=\.)\s+", context) if s.strip()]
        best = max(sentences, key=lambda s: len(question & set(_WORD.findall(s.lower()))))
        if streaming_callback is not None:
            streaming_callback(best)
        meta = {"model": "picker", "prompt_tokens": 0, "completion_tokens": 0}
        return {"replies": [best], "meta": [{**meta, "finish_reason": "stop"}]}


@component
class OutOfOrder:
    """A model in this process that fails every call."""

    def __init__(self, *, stop: list[str] | None = None) -> None:
        self.stop = list(stop or [])

    @component.output_types(replies=list[str], meta=list[dict[str, Any]])
    def run(self, prompt: str, json_schema: Any = None, streaming_callback: Any = None) -> dict:
        raise RuntimeError("the house model is out of order")


def build_picker(request: ModelRequest) -> SentencePicker:
    return SentencePicker(stop=list(request.stop))


def no_endpoint(settings) -> None:
    if settings.base_url:
        raise ValueError("the picker runs in process and has no base_url")


@pytest.fixture
def registered():
    """Providers registered by a test, forgotten after it."""
    names = []
    yield names
    for name in names:
        unregister_provider(name)


def answer(tmp_path, provider: str) -> str:
    settings = Settings.model_validate(
        {"data_dir": str(tmp_path), "models": {"house": {"provider": provider}}}
    )
    qa = QAPipeline.from_settings(settings)
    try:
        reply = qa.complete(PROMPT)
    finally:
        qa.close()
    assert [call["model"] for call in reply.models_tried] == ["house"]
    return reply.answer


def test_a_provider_registered_by_a_module_answers_a_question(tmp_path, registered):
    register_provider(Provider(name="picker", build=build_picker, in_process=True))
    registered.append("picker")
    assert "picker" in provider_names()
    assert answer(tmp_path, "picker") == "Orders ship from Rotterdam on weekdays."
    model = Settings.model_validate({"models": {"m": {"provider": "picker"}}}).models["m"]
    assert model.in_process and model.extractive


def test_when_another_providers_model_fails_the_advice_names_that_provider(tmp_path, registered):
    register_provider(
        Provider(name="broken", build=lambda r: OutOfOrder(stop=list(r.stop)), in_process=True)
    )
    registered.append("broken")
    settings = Settings.model_validate(
        {"data_dir": str(tmp_path), "models": {"house": {"provider": "broken", "retries": 0}}}
    )
    qa = QAPipeline.from_settings(settings)
    try:
        with pytest.raises(AllModelsFailedError) as failed:
            qa.complete(PROMPT)
    finally:
        qa.close()
    said = str(failed.value)
    assert "out of order" in said and "provider 'broken'" in said and "llama.cpp" not in said


def test_an_installed_package_registers_through_its_entry_point(tmp_path, monkeypatch, registered):
    # A package as pip installs it: its module, and a dist-info naming the entry point.
    site = tmp_path / "site"
    (site / "docent_acme-1.0.dist-info").mkdir(parents=True)
    (site / "docent_acme-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: docent-acme\nVersion: 1.0\n"
    )
    (site / "docent_acme-1.0.dist-info" / "entry_points.txt").write_text(
        "[docent.providers]\nacme = docent_acme_provider:provider\n"
        "broken = docent_acme_missing:provider\n"
    )
    (site / "docent_acme_provider.py").write_text(
        "from pipelines.providers import Provider\n"
        "from tests.pipelines.test_providers import build_picker, no_endpoint\n"
        "provider = Provider(name='acme', build=build_picker, check=no_endpoint)\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "docent_acme_provider", raising=False)
    registered.append("acme")

    # Listed without being imported: a lookup loads only the provider it names.
    assert {"acme", "broken", "llama_cpp", "openai"} <= set(provider_names())
    assert "docent_acme_provider" not in sys.modules
    assert answer(tmp_path / "data", "acme") == "Orders ship from Rotterdam on weekdays."
    assert find_provider("acme").name == "acme"
    with pytest.raises(ConfigError, match="'broken' of docent-acme cannot be loaded"):
        find_provider("broken")
    # The provider's own check runs when the configuration loads.
    config = tmp_path / "acme.yaml"
    config.write_text("models:\n  m:\n    provider: acme\n    base_url: http://x/v1\n")
    with pytest.raises(ConfigError, match="models.m: the picker runs in process"):
        load_settings(config)
    monkeypatch.delitem(sys.modules, "docent_acme_provider", raising=False)


def test_an_unknown_provider_is_refused_with_the_known_ones(tmp_path):
    config = tmp_path / "docent.yaml"
    config.write_text("models:\n  m:\n    provider: ollama\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    message = str(caught.value)
    assert "models.m.provider: unknown provider; known: llama_cpp, openai" in message
    assert "entry-point group docent.providers" in message and "(got 'ollama')" in message


def test_a_name_is_registered_once(registered):
    register_provider(Provider(name="picker", build=build_picker))
    registered.append("picker")
    with pytest.raises(ConfigError, match="'picker' is already registered"):
        register_provider(Provider(name="picker", build=build_picker))
    with pytest.raises(ConfigError, match="'openai' is already registered"):
        register_provider(Provider(name="openai", build=build_picker))
