"""The configuration model, the shipped default file and the error messages."""

from pathlib import Path

import pytest
import yaml

from components.errors import ConfigError
from pipelines.config import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_default_yaml_spells_out_exactly_the_built_in_defaults(monkeypatch):
    monkeypatch.delenv("DOCENT_DATA_DIR", raising=False)
    assert load_settings(REPO / "configs" / "default.yaml") == Settings()


def test_data_dir_environment_variable_overrides_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCENT_DATA_DIR", str(tmp_path / "kb"))
    settings = load_settings(REPO / "configs" / "default.yaml")
    assert settings.store_path == tmp_path / "kb" / "edge"


def test_config_environment_variable_names_the_file(tmp_path, monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text("retrieval:\n  top_k: 9\n")
    monkeypatch.setenv("DOCENT_CONFIG", str(config))
    assert load_settings().retrieval.top_k == 9


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "chunking:\n  max_tokns: 100\n",
            [
                "chunking.max_tokns: unknown key",
                "allowed keys here: max_tokens, overlap_tokens",
            ],
        ),
        ("chunking:\n  max_tokens: lots\n", ["chunking.max_tokens:", "valid integer", "'lots'"]),
        ("store:\n  kind: qdrant_cloud\n", ["store.kind:", "'qdrant_local'", "'qdrant_cloud'"]),
        (
            "chunking:\n  max_tokens: 100\n  overlap_tokens: 60\n",
            [
                "chunking:",
                "must be less than half of max_tokens",
            ],
        ),
        ("colour: blue\n", ["colour: unknown key", "allowed keys here: audit, breaker, budget"]),
        (
            "models:\n  remote:\n    provider: openai\n    colour: blue\n",
            ["models.remote.colour: unknown key", "allowed keys here: api_key_env, backoff"],
        ),
        (
            "models:\n  remote:\n    provider: openai\n",
            ["models.remote: a model with provider openai needs base_url"],
        ),
        (
            "models:\n  gemma-3-270m:\n    max_concurrency: 4\n",
            ["models.gemma-3-270m: max_concurrency is 4", "set max_concurrency to 1 or null"],
        ),
        (
            "models:\n  remote:\n    provider: openai\n    base_url: http://h/v1\n"
            "    max_concurrency: 0\n",
            ["models.remote.max_concurrency:", "greater than or equal to 1"],
        ),
        (
            "routes:\n  question:\n    models: [gpt-9]\n",
            ["routes.question.models: unknown model 'gpt-9'; known: gemma-3-270m"],
        ),
        ("routes:\n  question:\n    type: reply\n", ["routes.question: a reply route needs"]),
        (
            "routes:\n  question:\n    type: direct\n    json_schema: {type: 12}\n",
            ["routes.question: json_schema is not a valid JSON schema"],
        ),
        ("- just\n- a list\n", ["must hold a mapping of sections"]),
        ("retrieval: [unclosed\n", ["is not valid YAML"]),
    ],
)
def test_bad_config_names_the_key_path_the_value_and_what_is_allowed(tmp_path, text, expected):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    message = str(error.value)
    assert str(config) in message
    for fragment in expected:
        assert fragment in message


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the configuration file"):
        load_settings(tmp_path / "nope.yaml")


def test_every_section_of_the_default_file_is_documented_in_the_model():
    sections = yaml.safe_load((REPO / "configs" / "default.yaml").read_text())
    assert set(sections) == set(Settings.model_fields)


def test_the_readme_recipe_for_a_stronger_model_is_a_valid_configuration(tmp_path):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### A stronger model behind an OpenAI-compatible endpoint", 1)[1]
    recipe = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "stronger.yaml").write_text(recipe)
    settings = load_settings(tmp_path / "stronger.yaml")
    assert list(settings.models) == ["gemma-3-270m", "stronger"]
    assert settings.models["gemma-3-270m"].extractive
    assert not settings.models["stronger"].extractive
    assert settings.models["stronger"].base_url.endswith("/v1")
    assert settings.embedding == Settings().embedding  # the rest keeps the defaults


def test_intents_need_routes_only_in_a_pipeline_that_answers(tmp_path):
    from pipelines.query.pipeline import QAPipeline

    config = tmp_path / "intents.yaml"
    config.write_text(
        f"data_dir: {tmp_path}\nintents:\n  examples:\n    billing: [refund]\n"
        "    login: [password]\nroutes:\n  login: {type: rag}\n"
    )
    settings = load_settings(config)  # a valid file: classifying needs no route
    with pytest.raises(ConfigError, match="no route for the intent 'billing'; add routes.billing"):
        QAPipeline.from_settings(settings)
    classifier = QAPipeline.from_settings(settings, routing=False)
    try:
        assert classifier.intents == ["billing", "login"]
    finally:
        classifier.close()
