"""Complete a prompt with any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp, Ollama)."""

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any, Literal

from haystack import component, default_from_dict, default_to_dict
from haystack.utils import Secret, deserialize_secrets_inplace

from components.errors import ConfigError, ModelCallError

StructuredOutput = Literal["grammar", "response_format", "none"]


@component
class OpenAICompletionGenerator:
    """Complete a prompt through the `/v1/completions` endpoint of an OpenAI-compatible server.

    The client makes exactly one attempt per `run` (no hidden retries): retries, backoff and
    fallback belong to the chain that calls it, which must see every failure. A failure raises
    `ModelCallError` with a `kind` the chain acts on: "connection", "timeout", "rate_limited"
    (with the server's Retry-After), "server_error", "bad_output" (a reply that is not a
    completion) or "client_error" (the request was refused, e.g. a wrong API key).

    A JSON schema asks for structured output: with `structured_output="grammar"` (llama.cpp
    servers) the schema becomes a GBNF grammar sent in the request, with "response_format" it is
    sent as `response_format`; with "none" only the caller's validation guards the shape.

    Usage:
    ```python
    generator = OpenAICompletionGenerator(
        base_url="http://127.0.0.1:8080/v1",
        model="gemma",
        api_key=Secret.from_env_var("OPENAI_API_KEY", strict=False),
        stop=["\\n"],
        timeout=10.0,
    )
    generator.run(prompt="Question: ...\\nAnswer:")["replies"][0]
    ```
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: Secret | None = None,
        timeout: float = 60.0,
        max_new_tokens: int = 64,
        temperature: float = 0.0,
        stop: list[str] | None = None,
        structured_output: StructuredOutput = "none",
    ) -> None:
        """Create the generator.

        :param base_url: the endpoint's base URL, ending in `/v1` for most servers.
        :param model: the model name the endpoint expects.
        :param api_key: the API key, best `Secret.from_env_var(...)` (read when the client is
            created, and serialised as the variable's name only); None for servers that need
            none.
        :param timeout: seconds to wait for the whole reply.
        :param max_new_tokens: the longest reply, in tokens.
        :param temperature: 0 for deterministic, greedy decoding.
        :param stop: sequences that end the reply.
        :param structured_output: how a JSON schema is passed to the server.
        """
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL (got {base_url!r})")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive (got {timeout})")
        if structured_output not in ("grammar", "response_format", "none"):
            raise ValueError(
                f"structured_output must be grammar, response_format or none "
                f"(got {structured_output!r})"
            )
        self.base_url = base_url
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.stop = list(stop or [])
        self.structured_output = structured_output
        self._client: Any = None

    def warm_up(self) -> None:
        """Create the HTTP client (idempotent); nothing is sent until `run`.

        :raises ConfigError: `api_key` reads an environment variable that is not set.
        """
        if self._client is not None:
            return
        import openai

        self._client = openai.OpenAI(
            base_url=self.base_url, api_key=self._key(), timeout=self.timeout, max_retries=0
        )

    def _key(self) -> str:
        """The API key's value; a placeholder for servers that need none."""
        if self.api_key is None:
            return "not-needed"
        try:
            key = self.api_key.resolve_value()
        except ValueError:
            # A strict `Secret.from_env_var` whose variable is not set.
            key = None
        if not key:
            names = " or ".join(self.api_key.to_dict().get("env_vars") or ["(none)"])
            raise ConfigError(
                f"model {self.model!r} at {self.base_url} reads its API key from the "
                f"environment variable {names}, which is not set: export it"
            )
        return key

    def to_dict(self) -> dict[str, Any]:
        """Serialise the settings: an environment-variable key as the variable's name, never
        its value (a key given as a token cannot be serialised: Haystack refuses)."""
        return default_to_dict(
            self,
            base_url=self.base_url,
            model=self.model,
            api_key=None if self.api_key is None else self.api_key.to_dict(),
            timeout=self.timeout,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            stop=self.stop,
            structured_output=self.structured_output,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "OpenAICompletionGenerator":
        """Rebuild the generator from `to_dict`'s output."""
        deserialize_secrets_inplace(data["init_parameters"], keys=["api_key"])
        return default_from_dict(cls, data)

    @component.output_types(replies=list[str], meta=list[dict[str, Any]])
    def run(
        self,
        prompt: str,
        json_schema: dict[str, Any] | None = None,
        streaming_callback: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """Complete `prompt` with one request.

        :param json_schema: ask for JSON of this shape (see `structured_output`).
        :param streaming_callback: called with each piece of text as the server streams it
            (server-sent events); the reply is still returned whole. A stream that breaks off,
            or ends without the server's finish reason, raises `ModelCallError` rather than
            passing for a short answer.
        :returns: `replies`, one stripped completion, and `meta`, its model, token counts
            (completion tokens counted from the stream when the server reports no usage),
            finish reason and seconds.
        :raises ModelCallError: the request failed; `kind` says how.
        """
        self.warm_up()
        started = time.perf_counter()
        extra: dict[str, Any] = {}
        if json_schema is not None and self.structured_output == "grammar":
            from llama_cpp.llama_grammar import json_schema_to_gbnf

            extra["grammar"] = json_schema_to_gbnf(json.dumps(json_schema))
        elif json_schema is not None and self.structured_output == "response_format":
            extra["response_format"] = {"type": "json_object", "schema": json_schema}
        request = {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "stop": (self.stop or None) if json_schema is None else None,
            "extra_body": extra or None,
        }
        with self._typed_errors():
            if streaming_callback is None:
                text, finish, usage = self._complete(request)
            else:
                text, finish, usage = self._stream(request, streaming_callback)
        meta = {
            "model": self.model,
            "prompt_tokens": getattr(usage, "prompt_tokens", 0) or 0,
            "completion_tokens": getattr(usage, "completion_tokens", 0) or 0,
            "finish_reason": finish,
            "seconds": round(time.perf_counter() - started, 3),
        }
        return {"replies": [text.strip()], "meta": [meta]}

    def _complete(self, request: dict[str, Any]) -> tuple[str, str | None, Any]:
        """The text, finish reason and usage of one plain request."""
        response = self._client.completions.create(**request)
        choices = getattr(response, "choices", None)
        if not choices or not isinstance(getattr(choices[0], "text", None), str):
            raise self._error("bad_output", f"the reply is not a completion: {_short(response)}")
        return choices[0].text, choices[0].finish_reason, getattr(response, "usage", None)

    def _stream(
        self, request: dict[str, Any], callback: Callable[[str], None]
    ) -> tuple[str, str | None, Any]:
        """The text, finish reason and usage of a streamed request, passing on each piece."""
        pieces: list[str] = []
        finish = usage = None
        stream = self._client.completions.create(
            **request, stream=True, stream_options={"include_usage": True}
        )
        with stream:
            for chunk in stream:
                usage = getattr(chunk, "usage", None) or usage
                for choice in chunk.choices or []:
                    if choice.text:
                        pieces.append(choice.text)
                        callback(choice.text)
                    finish = choice.finish_reason or finish
        if finish is None:
            raise self._error(
                "connection",
                f"the stream ended without a finish reason after {len(pieces)} pieces: "
                "the answer was cut off",
            )
        if usage is None:
            # Servers without stream usage send one piece per token.
            usage = SimpleNamespace(prompt_tokens=0, completion_tokens=len(pieces))
        return "".join(pieces), finish, usage

    @contextmanager
    def _typed_errors(self) -> Iterator[None]:
        """Turn the client's and the transport's exceptions into typed `ModelCallError`s."""
        import httpx
        import openai

        try:
            yield
        except openai.APITimeoutError as e:
            raise self._error("timeout", f"no reply within {self.timeout} s") from e
        except openai.APIConnectionError as e:
            raise self._error("connection", f"cannot reach {self.base_url} ({e})") from e
        except openai.RateLimitError as e:
            raise self._error(
                "rate_limited", "HTTP 429 Too Many Requests", _retry_after(e.response)
            ) from e
        except openai.APIStatusError as e:
            kind = "server_error" if e.status_code >= 500 else "client_error"
            raise self._error(kind, f"HTTP {e.status_code}: {_short(e.message)}") from e
        except (openai.APIResponseValidationError, json.JSONDecodeError) as e:
            raise self._error("bad_output", f"the reply is not a completion ({e})") from e
        except openai.APIError as e:
            # An error event in the middle of a stream.
            raise self._error("server_error", f"the stream failed: {_short(e.message)}") from e
        except httpx.TimeoutException as e:
            raise self._error("timeout", f"the stream stalled for {self.timeout} s") from e
        except httpx.HTTPError as e:
            raise self._error("connection", f"the stream broke off ({e})") from e

    def _error(self, kind: str, detail: str, retry_after: float | None = None) -> ModelCallError:
        return ModelCallError(self.model, kind, f"{detail} [{self.base_url}]", retry_after)


def _retry_after(response: Any) -> float | None:
    """The Retry-After header in seconds, when the server sent a number."""
    value = getattr(response, "headers", {}).get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _short(value: Any, limit: int = 200) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."
