"""Call a chain of models until one gives a usable reply: retries, backoff, breakers, budget."""

import contextlib
import inspect
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from haystack import logging

from components.errors import ModelCallError
from components.generation.json_output import parse_json_reply
from components.routing.circuit_breaker import CircuitBreaker
from components.routing.model_router import ModelCard

logger = logging.getLogger(__name__)


class Generator(Protocol):
    """What the chain needs of a generator: `run(prompt, json_schema, streaming_callback)` ->
    replies and meta; a generator that can keep its reply to a span of given texts also
    takes `spans` (see `LlamaCppGenerator`)."""

    def run(
        self,
        prompt: str,
        json_schema: dict[str, Any] | None = None,
        streaming_callback: Callable[[str], None] | None = None,
    ) -> dict[str, Any]: ...


StreamEvent = dict[str, Any]


@dataclass
class ModelCall:
    """One attempt at one model, or the reason it was not called, with its tokens and cost.

    `outcome` is "ok", "skipped", or the failure kind ("timeout", "rate_limited", ...).
    """

    model: str
    outcome: str
    detail: str = ""
    attempt: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cost: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass
class Budget:
    """A per-request limit on tokens and money; None means no limit. Tracks what was spent."""

    max_tokens: int | None = None
    max_cost: float | None = None
    tokens: int = 0
    cost: float = 0.0

    def charge(self, call: ModelCall) -> None:
        """Add what a call used."""
        self.tokens += call.prompt_tokens + call.completion_tokens
        self.cost += call.cost

    def refusal(self, tokens: int, cost: float) -> str | None:
        """Why a call needing at most `tokens` and `cost` would break the budget, or None."""
        if self.max_tokens is not None and self.tokens + tokens > self.max_tokens:
            return f"over budget: needs up to {tokens} tokens, {self.max_tokens - self.tokens} left"
        if self.max_cost is not None and self.cost + cost > self.max_cost:
            return f"over budget: may cost {cost:.6f}, {self.max_cost - self.cost:.6f} left"
        return None


class ModelBusy(Exception):
    """A model's places are all taken and its waiting line is full."""


@dataclass
class ModelSlot:
    """A registered model as the chain uses it: its card, generator, retry policy, breaker, and
    how many calls it may serve at once (`max_concurrency`: more wait for a free place, so
    that requests on many threads never call it beyond that; an in-process model that is not
    thread-safe keeps 1). At most `max_waiting` calls wait (None: any number); one more is
    not made, and the chain goes on to its next model (`place`)."""

    card: ModelCard
    generator: Generator
    retries: int = 1
    backoff: float = 0.5
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    max_concurrency: int = 1
    max_waiting: int | None = None
    places: threading.BoundedSemaphore = field(init=False, repr=False, compare=False)
    waiting: int = field(init=False, default=0, compare=False)
    _count_lock: threading.Lock = field(
        init=False, repr=False, compare=False, default_factory=threading.Lock
    )
    # Whether the generator can keep its reply to given spans (an endpoint cannot: its reply
    # is anchored after the fact); read once from its `run`'s signature.
    takes_spans: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1 (got {self.max_concurrency})")
        self.places = threading.BoundedSemaphore(self.max_concurrency)
        self.takes_spans = "spans" in inspect.signature(self.generator.run).parameters

    @contextlib.contextmanager
    def place(self) -> Iterator[None]:
        """Hold one of the model's places for a call: a free one at once, else wait for one.

        Raises:
            ModelBusy: every place is taken and `max_waiting` calls already wait.
        """
        if not self.places.acquire(blocking=False):
            with self._count_lock:
                if self.max_waiting is not None and self.waiting >= self.max_waiting:
                    raise ModelBusy(
                        f"all {self.max_concurrency} of its places are taken and "
                        f"{self.waiting} calls already wait (service.max_waiting)"
                    )
                self.waiting += 1
            try:
                self.places.acquire()
            finally:
                with self._count_lock:
                    self.waiting -= 1
        try:
            yield
        finally:
            self.places.release()


@dataclass
class ChainResult:
    """The first usable reply (None when every model failed), who gave it, and every call."""

    reply: str | None
    model: str | None
    calls: list[ModelCall]
    value: Any = None
    # What the answering generator reported beyond tokens (e.g. `span_forced`).
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def reasons(self) -> list[str]:
        """Why each model that did not answer was left, one line per model."""
        last: dict[str, str] = {}
        for call in self.calls:
            if call.outcome != "ok" and call.model != self.model:
                last[call.model] = f"{call.model}: {call.outcome} ({call.detail})"
        return list(last.values())


class FallbackGenerator:
    """Try models in order until one returns a usable reply.

    For each model: skip it while its circuit breaker is open or when the call could break the
    request's budget; otherwise call it, and on a retryable failure (connection error, timeout,
    HTTP 429 or 5xx, empty output, output that is not JSON of the requested schema) call it
    again up to `retries` times, waiting `backoff`, then twice as long, ... (or the server's
    Retry-After), at most `max_backoff` seconds. A model that still fails counts one failure on
    its breaker and the next model takes over. A model whose places are all taken and whose
    waiting line is full (`ModelSlot.max_waiting`) is passed over as "busy", which counts
    nothing against it. Every attempt is recorded with its tokens, seconds and cost.

    Usage:
    ```python
    chain = FallbackGenerator({"local": ModelSlot(card, generator), "remote": ...})
    result = chain.run({"local": prompt_for_local, "remote": prompt_for_remote})
    result.reply, result.model, [c.outcome for c in result.calls]
    ```
    """

    def __init__(
        self,
        slots: dict[str, ModelSlot],
        *,
        max_backoff: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Create the chain over the registered models' slots, by name."""
        self.slots = slots
        self.max_backoff = max_backoff
        self.sleep = sleep

    def run(
        self,
        prompts: dict[str, str],
        *,
        prompt_tokens: dict[str, int] | None = None,
        json_schema: dict[str, Any] | None = None,
        budget: Budget | None = None,
        on_event: Callable[[StreamEvent], None] | None = None,
        spans: dict[str, list[str]] | None = None,
    ) -> ChainResult:
        """Try the models of `prompts` (name -> its prompt), in the dict's order.

        :param prompt_tokens: each prompt's size in its model's tokens, to check the budget
            before calling.
        :param json_schema: the reply must be JSON matching this schema; it is parsed into
            `ChainResult.value`.
        :param budget: the request's budget, charged with every call.
        :param on_event: receives the streamed pieces and restarts of a text reply (not used
            with `json_schema`).
        :param spans: per model, the texts its reply must be a span of (passed to its
            generator as `spans`); a model not named here writes freely.
        """
        calls: list[ModelCall] = []
        for name, prompt in prompts.items():
            slot = self.slots[name]
            card = slot.card
            needed = (prompt_tokens or {}).get(name, 0)
            if budget is not None:
                refusal = budget.refusal(
                    needed + card.max_new_tokens, card.cost(needed, card.max_new_tokens)
                )
                if refusal:
                    calls.append(ModelCall(name, "skipped", refusal))
                    continue
            if not slot.breaker.allow():
                wait = slot.breaker.seconds_until_probe()
                calls.append(
                    ModelCall(name, "skipped", f"circuit open, next probe in {wait:.0f} s")
                )
                continue
            stream = on_event if json_schema is None else None
            try:
                result = self._call_with_retries(
                    slot,
                    prompt,
                    json_schema,
                    budget,
                    calls,
                    stream,
                    needed,
                    (spans or {}).get(name),
                )
            finally:
                # Whatever ends the call (an outcome below, or an interruption that tells
                # nothing about the model), a half-open breaker's probe is over.
                slot.breaker.release()
            if result is not None:
                slot.breaker.record_success()
                reply, value, meta = result
                return ChainResult(reply, name, calls, value, meta)
            if calls[-1].outcome == "busy":
                continue  # a full line says nothing about the model's health
            slot.breaker.record_failure()
            logger.warning("model {model} failed; falling back", model=name)
        return ChainResult(None, None, calls)

    def _call_with_retries(
        self,
        slot: ModelSlot,
        prompt: str,
        json_schema: dict[str, Any] | None,
        budget: Budget | None,
        calls: list[ModelCall],
        on_event: Callable[[StreamEvent], None] | None,
        prompt_tokens: int,
        spans: list[str] | None = None,
    ) -> tuple[str, Any, dict[str, Any]] | None:
        name = slot.card.name
        for attempt in range(1, slot.retries + 2):
            started = time.perf_counter()
            call = ModelCall(name, "ok", attempt=attempt)
            retry_after = None
            streamed: list[str] = []
            kwargs: dict[str, Any] = {}
            if spans is not None and slot.takes_spans:
                kwargs["spans"] = spans
            if on_event is not None:

                def relay(text: str, streamed: list[str] = streamed) -> None:
                    streamed.append(text)
                    on_event({"type": "token", "model": name, "text": text})

                kwargs["streaming_callback"] = relay
            try:
                with slot.place():
                    # Waiting for a place is not the call's time.
                    started = time.perf_counter()
                    output = slot.generator.run(prompt=prompt, json_schema=json_schema, **kwargs)
                meta = output["meta"][0]
                # A streaming server may report no usage: the prompt's measured size stands in.
                call.prompt_tokens = int(meta.get("prompt_tokens") or prompt_tokens)
                call.completion_tokens = int(meta.get("completion_tokens") or 0)
                call.cost = slot.card.cost(call.prompt_tokens, call.completion_tokens)
                reply = output["replies"][0] if output["replies"] else ""
                value = _check(reply, json_schema)
            except ModelBusy as e:
                call.outcome, call.detail = "busy", str(e)
            except ModelCallError as e:
                call.outcome, call.detail, retry_after = e.kind, e.detail, e.retry_after
            except ValueError as e:
                call.outcome, call.detail = "bad_output", str(e)
            # Documented fallback: anything else a model call raises (a missing API-key
            # variable, a reply of an unexpected shape, a failing stream callback) is this
            # model's failure, so the chain goes on to the next model.
            except Exception as e:  # noqa: BLE001
                logger.exception("model {model} raised {error}", model=name, error=repr(e))
                call.outcome, call.detail = "error", f"{type(e).__name__}: {e}"
            call.seconds = round(time.perf_counter() - started, 4)
            calls.append(call)
            if budget is not None:
                budget.charge(call)
            if call.outcome == "ok":
                return reply, value, meta
            if streamed and on_event is not None:
                on_event({"type": "restart", "model": name, "reason": call_reason(call)})
            if call.outcome not in ModelCallError.RETRYABLE or attempt > slot.retries:
                return None
            delay = retry_after if retry_after is not None else slot.backoff * 2 ** (attempt - 1)
            self.sleep(min(delay, self.max_backoff))
        return None


def call_reason(call: ModelCall) -> str:
    """Why a call failed, in one line: "timeout (no reply within 10 s)"."""
    return f"{call.outcome} ({call.detail})" if call.detail else call.outcome


def _check(reply: str, json_schema: dict[str, Any] | None) -> Any:
    """The parsed value of a usable reply; ValueError for an empty or ill-formed one."""
    if not reply.strip():
        raise ValueError("the reply is empty")
    return parse_json_reply(reply, json_schema) if json_schema is not None else None
