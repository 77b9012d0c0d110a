"""OpenAICompletionGenerator against a real llama.cpp server on loopback, and its failures."""

import pytest
from haystack.utils import Secret

from components.errors import ConfigError, ModelCallError
from components.generation.openai_completion_generator import OpenAICompletionGenerator
from tests.components.helpers import round_trip
from tests.servers import FaultProxy, LlamaServer, unused_base_url

PROMPT = "Context: Orders ship from Rotterdam.\nQuestion: Where do orders ship from?\nAnswer:"


@pytest.fixture(scope="module")
def server():
    with LlamaServer() as running:
        yield running


def generator(base_url, alias="gemma-3-270m", **kwargs):
    return OpenAICompletionGenerator(
        base_url=base_url, model=alias, stop=["\n"], max_new_tokens=16, timeout=20.0, **kwargs
    )


def test_a_completion_has_text_and_usage(server):
    result = generator(server.base_url, server.alias).run(prompt=PROMPT)
    assert "Rotterdam" in result["replies"][0]
    meta = result["meta"][0]
    assert meta["prompt_tokens"] > 10 and meta["completion_tokens"] > 0
    assert meta["model"] == server.alias and meta["finish_reason"] in ("stop", "length")


def test_a_schema_becomes_a_grammar_the_server_obeys(server):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    reply = generator(server.base_url, server.alias, structured_output="grammar").run(
        prompt=PROMPT + ' Give JSON like {"city": "..."}.\nJSON:', json_schema=schema
    )["replies"][0]
    assert reply.startswith("{") and '"city"' in reply


@pytest.mark.parametrize(
    ("fault", "kind"),
    [("500", "server_error"), ("429", "rate_limited"), ("garbage", "bad_output")],
)
def test_faults_become_typed_errors(server, fault, kind):
    with FaultProxy(server.base_url) as proxy:
        proxy.inject(fault)
        with pytest.raises(ModelCallError) as caught:
            generator(proxy.base_url, server.alias).run(prompt=PROMPT)
    assert caught.value.kind == kind and caught.value.retryable
    if fault == "429":
        assert caught.value.retry_after == 1.0
    assert proxy.requests == 1, "the client itself never retries"


def test_a_dead_endpoint_is_a_connection_error():
    with pytest.raises(ModelCallError) as caught:
        generator(unused_base_url()).run(prompt=PROMPT)
    assert caught.value.kind == "connection" and "cannot reach" in str(caught.value)


def test_a_missing_api_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("DOCENT_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match="DOCENT_TEST_KEY, which is not set"):
        generator(unused_base_url(), api_key=Secret.from_env_var("DOCENT_TEST_KEY")).warm_up()


def test_round_trip_keeps_the_key_out(monkeypatch):
    monkeypatch.setenv("SECRET_VAR", "sk-not-to-be-written")
    key = Secret.from_env_var("SECRET_VAR", strict=False)
    original = generator("http://127.0.0.1:1/v1", api_key=key)
    written = original.to_dict()["init_parameters"]["api_key"]
    assert written == {"type": "env_var", "env_vars": ["SECRET_VAR"], "strict": False}
    copy, data = round_trip(original)
    assert copy.api_key == key and "sk-" not in str(data)
    assert copy.api_key.resolve_value() == "sk-not-to-be-written"
    with pytest.raises(ValueError, match="token"):
        round_trip(generator("http://127.0.0.1:1/v1", api_key=Secret.from_token("sk-inline")))
    with pytest.raises(ValueError, match="http"):
        OpenAICompletionGenerator(base_url="localhost:8080", model="m")


def test_a_streamed_completion_passes_on_its_pieces(server):
    pieces = []
    result = generator(server.base_url, server.alias).run(
        prompt=PROMPT, streaming_callback=pieces.append
    )
    assert len(pieces) > 1 and "".join(pieces).strip() == result["replies"][0]
    assert "Rotterdam" in result["replies"][0]
    assert result["meta"][0]["finish_reason"] in ("stop", "length")
    assert result["meta"][0]["completion_tokens"] == len(pieces)


def test_a_stream_that_breaks_off_is_an_error_not_a_short_answer(server):
    pieces = []
    with FaultProxy(server.base_url) as proxy:
        proxy.inject("cut:Orders ship from", times=1)
        with pytest.raises(ModelCallError) as caught:
            generator(proxy.base_url, server.alias).run(
                prompt=PROMPT, streaming_callback=pieces.append
            )
    assert "".join(pieces) == "Orders ship from"
    assert caught.value.kind == "connection" and "cut off" in str(caught.value)
    assert caught.value.retryable
