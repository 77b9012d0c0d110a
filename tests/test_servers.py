"""The loopback test servers themselves: a real llama.cpp server, and the fault proxy before it.

Also pins down what the llama.cpp server does with constrained decoding, which the clients
built on it rely on: `/v1/completions` honours a GBNF `grammar` and ignores `response_format`.
"""

import json
import threading
import time

import httpx
import openai
import pytest
from llama_cpp.llama_grammar import json_schema_to_gbnf
from llama_cpp.server.types import CreateCompletionRequest

from tests.servers import FaultProxy, LlamaServer, unused_base_url

PROMPT = "Question: What is the capital of France?\nAnswer:"
# Grammar-constrained sampling is slow with Gemma's 262k-token vocabulary: about 0.25 s
# a token on two cores, more when the machine is busy.
SLOW = 90.0


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    """One llama.cpp server on the shipped Gemma model for the whole module, its log kept."""
    with LlamaServer(log_path=tmp_path_factory.mktemp("llama") / "server.log") as server:
        yield server


@pytest.fixture
def proxy(llama):
    """A fresh fault proxy in front of the llama server, so counts start at zero."""
    with FaultProxy(llama.base_url) as fault_proxy:
        yield fault_proxy


def _client(base_url: str, timeout: float = 30.0) -> openai.OpenAI:
    """An OpenAI client that never retries, so each call is exactly one request."""
    return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=timeout)


def _complete(base_url: str, timeout: float = 30.0, **kwargs):
    """One short `/v1/completions` call on PROMPT, stopping at the end of the line."""
    return _client(base_url, timeout).completions.create(
        model="gemma-3-270m", prompt=PROMPT, max_tokens=8, stop=["\n"], **kwargs
    )


def test_llama_server_serves_its_alias(llama):
    models = httpx.get(f"{llama.base_url}/models", timeout=10).json()
    assert [m["id"] for m in models["data"]] == [llama.alias]
    assert llama.base_url.startswith("http://127.0.0.1:") and llama.base_url.endswith("/v1")


def test_a_server_that_cannot_start_raises_with_its_log(tmp_path):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a model")
    with pytest.raises(RuntimeError, match="exited with code") as caught:
        LlamaServer(str(broken), log_path=tmp_path / "server.log").start()
    assert "broken.gguf" in str(caught.value)


def test_pass_forwards_a_real_completion(proxy):
    completion = _complete(proxy.base_url)
    assert isinstance(completion.choices[0].text, str)
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert completion.usage.completion_tokens > 0
    assert completion.model == "gemma-3-270m"
    assert proxy.requests == 1 and proxy.records == [("/v1/completions", "pass")]


def test_pass_relays_server_sent_events(proxy):
    stream = _complete(proxy.base_url, stream=True)
    chunks = list(stream)
    assert chunks and chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert proxy.counts == {"pass": 1}


def test_500_is_an_internal_server_error(proxy):
    proxy.inject("500")
    with pytest.raises(openai.InternalServerError, match="injected server error"):
        _complete(proxy.base_url)
    assert proxy.counts == {"500": 1}


def test_429_is_a_rate_limit_with_retry_after(proxy):
    proxy.inject("429")
    with pytest.raises(openai.RateLimitError) as caught:
        _complete(proxy.base_url)
    assert caught.value.response.headers["retry-after"] == "1"
    assert proxy.counts == {"429": 1}


def test_hang_times_out_a_client(proxy):
    proxy.inject("hang")
    with pytest.raises(openai.APITimeoutError):
        _complete(proxy.base_url, timeout=0.5)
    assert proxy.counts == {"hang": 1}


def test_hang_closes_without_a_response_after_hang_seconds(proxy):
    proxy.hang_seconds = 0.3
    proxy.inject("hang")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{proxy.base_url}/completions", json={"prompt": PROMPT}, timeout=10)


def test_closing_the_proxy_ends_a_hang_at_once(llama):
    outcome = []

    def call():
        try:
            httpx.post(f"{proxy.base_url}/completions", json={"prompt": PROMPT}, timeout=20)
        except httpx.HTTPError as e:
            outcome.append(e)

    with FaultProxy(llama.base_url, hang_seconds=30) as proxy:
        proxy.inject("hang")
        caller = threading.Thread(target=call)
        caller.start()
        deadline = time.monotonic() + 5
        while proxy.requests == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
    caller.join(timeout=10)
    assert not caller.is_alive() and time.monotonic() - started < 5
    assert isinstance(outcome[0], httpx.RemoteProtocolError)


def test_garbage_is_json_content_that_is_not_json(proxy):
    proxy.inject("garbage")
    response = httpx.post(f"{proxy.base_url}/completions", json={"prompt": PROMPT}, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()
    # The openai client lets the decoding error through rather than wrapping it in APIError.
    proxy.inject("garbage")
    with pytest.raises(json.JSONDecodeError):
        _complete(proxy.base_url)


def test_empty_is_a_well_formed_completion_without_text(proxy):
    proxy.inject("empty")
    completion = _complete(proxy.base_url)
    assert completion.choices[0].text == ""
    assert completion.usage.completion_tokens == 0 and completion.usage.prompt_tokens > 0


def test_reply_is_a_well_formed_completion_with_the_text(proxy):
    proxy.inject("reply:The capital of France is Paris.")
    completion = _complete(proxy.base_url)
    assert completion.object == "text_completion" and completion.model == "gemma-3-270m"
    assert completion.choices[0].text == "The capital of France is Paris."
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_times_counts_down_then_passes(proxy):
    proxy.inject("500", times=2)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            _complete(proxy.base_url)
    assert proxy.mode == "pass"
    assert _complete(proxy.base_url).usage.completion_tokens > 0
    assert [mode for _, mode in proxy.records] == ["500", "500", "pass"]


def test_without_times_a_fault_stays(proxy):
    proxy.inject("reply:stuck")
    texts = [_complete(proxy.base_url).choices[0].text for _ in range(3)]
    assert texts == ["stuck"] * 3 and proxy.counts == {"reply:stuck": 3}
    proxy.inject("pass")
    assert proxy.mode == "pass"


def test_an_openai_client_counts_its_retries_on_the_proxy(proxy):
    proxy.inject("500", times=1)
    client = openai.OpenAI(base_url=proxy.base_url, api_key="unused", max_retries=2)
    completion = client.completions.create(
        model="gemma-3-270m", prompt=PROMPT, max_tokens=8, stop=["\n"]
    )
    assert completion.usage.completion_tokens > 0
    assert proxy.counts == {"500": 1, "pass": 1}


def test_unknown_modes_and_counts_are_refused(proxy):
    with pytest.raises(ValueError, match="unknown fault mode"):
        proxy.inject("503")
    with pytest.raises(ValueError, match="times"):
        proxy.inject("500", times=0)


def test_unused_base_url_refuses_connections():
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{unused_base_url()}/models", timeout=5)
    with pytest.raises(openai.APIConnectionError):
        _complete(unused_base_url())


def test_proxy_before_a_dead_upstream_answers_502():
    with FaultProxy(unused_base_url()) as proxy:
        response = httpx.get(f"{proxy.base_url}/models", timeout=10)
    assert response.status_code == 502 and "failed" in response.json()["error"]["message"]


def test_completions_honour_a_gbnf_grammar(llama):
    completion = _client(llama.base_url, timeout=SLOW).completions.create(
        model=llama.alias,
        prompt="Question: Is Paris in France? Answer yes or no.\nAnswer:",
        max_tokens=8,
        extra_body={"grammar": 'root ::= "yes" | "no"'},
    )
    assert completion.choices[0].text in ("yes", "no")


def test_completions_honour_a_grammar_made_from_a_json_schema(llama):
    schema = {
        "type": "object",
        "properties": {"intent": {"type": "string", "enum": ["billing", "account_access"]}},
        "required": ["intent"],
    }
    completion = _client(llama.base_url, timeout=SLOW).completions.create(
        model=llama.alias,
        prompt="Message: I was charged twice this month.\nJSON:",
        max_tokens=32,
        extra_body={"grammar": json_schema_to_gbnf(json.dumps(schema))},
    )
    assert json.loads(completion.choices[0].text)["intent"] in ("billing", "account_access")


def test_completions_ignore_response_format(llama):
    # The request model has no such field and pydantic drops unknown ones: no error, no effect.
    assert "response_format" not in CreateCompletionRequest.model_fields
    assert "grammar" in CreateCompletionRequest.model_fields
    response = httpx.post(
        f"{llama.base_url}/completions",
        json={"prompt": PROMPT, "max_tokens": 4, "response_format": {"type": "json_object"}},
        timeout=30,
    )
    assert response.status_code == 200


def test_chat_completions_take_a_json_object_schema_but_not_json_schema(llama):
    schema = {
        "type": "object",
        "properties": {"intent": {"type": "string", "enum": ["billing", "other"]}},
        "required": ["intent"],
    }
    client = _client(llama.base_url, timeout=SLOW)
    chat = client.chat.completions.create(
        model=llama.alias,
        messages=[{"role": "user", "content": "I was charged twice. What is the intent?"}],
        max_tokens=32,
        response_format={"type": "json_object", "schema": schema},
    )
    assert json.loads(chat.choices[0].message.content)["intent"] in ("billing", "other")
    # The OpenAI spelling is refused by validation, which this server reports as a 500.
    with pytest.raises(openai.InternalServerError, match="json_object"):
        client.chat.completions.create(
            model=llama.alias,
            messages=[{"role": "user", "content": "Hi"}],
            max_tokens=4,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "intent", "schema": schema},
            },
        )


def test_an_invalid_grammar_kills_the_server():
    # llama.cpp parses the grammar only when sampling starts, and a parse error there crashes
    # the whole process; clients must send only grammars known to parse.
    with LlamaServer() as doomed:
        with pytest.raises(httpx.TransportError):
            httpx.post(
                f"{doomed.base_url}/completions",
                json={"prompt": "Hi", "max_tokens": 4, "grammar": "root ::= ("},
                timeout=30,
            )
        assert doomed.process.wait(timeout=10) != 0
