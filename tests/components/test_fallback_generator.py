"""FallbackGenerator wiring: retries with backoff, fallback, breakers, budget, JSON checks.

The generators here are scripted stand-ins so each rule is checked exactly; the same chain
against real HTTP servers with injected faults is tested in
tests/pipelines/query/test_orchestration.py.
"""

import threading
import time

import pytest

from components.errors import ModelCallError
from components.generation.fallback_generator import Budget, FallbackGenerator, ModelSlot
from components.routing.circuit_breaker import CircuitBreaker
from components.routing.model_router import ModelCard


class Scripted:
    """Plays back a script: a reply string, or a ModelCallError kind to raise."""

    def __init__(self, name, *script):
        self.name = name
        self.script = list(script)
        self.calls = 0

    def run(self, prompt, json_schema=None):
        self.calls += 1
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if step in ModelCallError.RETRYABLE | {"client_error"}:
            raise ModelCallError(self.name, step, "scripted", retry_after=None)
        meta = {"prompt_tokens": 100, "completion_tokens": 10}
        return {"replies": [step], "meta": [meta]}


def chain(*generators, retries=1, threshold=2):
    slots = {
        g.name: ModelSlot(
            card=ModelCard(g.name, 2048, 64, price_in=1.0, price_out=2.0),
            generator=g,
            retries=retries,
            backoff=0.25,
            breaker=CircuitBreaker(failure_threshold=threshold, cooldown_seconds=60),
        )
        for g in generators
    }
    sleeps = []
    return FallbackGenerator(slots, sleep=sleeps.append), sleeps


def test_a_retry_after_a_timeout_succeeds_on_the_same_model():
    first = Scripted("a", "timeout", "fine")
    fallback, sleeps = chain(first, Scripted("b", "unused"))
    result = fallback.run({"a": "p", "b": "p"})
    assert (result.reply, result.model) == ("fine", "a")
    assert [c.outcome for c in result.calls] == ["timeout", "ok"]
    assert sleeps == [0.25]
    assert result.reasons == []


def test_exhausted_retries_fall_back_to_the_next_model_with_growing_backoff():
    fallback, sleeps = chain(Scripted("a", "server_error"), Scripted("b", "ok"), retries=2)
    result = fallback.run({"a": "p", "b": "p"})
    assert result.model == "b"
    assert [c.outcome for c in result.calls] == ["server_error"] * 3 + ["ok"]
    assert sleeps == [0.25, 0.5]
    assert result.reasons == ["a: server_error (scripted)"]


def test_client_errors_are_not_retried():
    fallback, sleeps = chain(Scripted("a", "client_error"), Scripted("b", "ok"))
    assert [c.outcome for c in fallback.run({"a": "p", "b": "p"}).calls] == ["client_error", "ok"]
    assert sleeps == []


def test_empty_and_schema_violating_replies_are_bad_output():
    schema = {"type": "object", "required": ["plan"], "properties": {"plan": {"type": "string"}}}
    fallback, _ = chain(Scripted("a", "", '{"other": 1}'), Scripted("b", '{"plan": "Plus"}'))
    result = fallback.run({"a": "p", "b": "p"}, json_schema=schema)
    assert [c.outcome for c in result.calls] == ["bad_output", "bad_output", "ok"]
    assert "empty" in result.calls[0].detail and "plan" in result.calls[1].detail
    assert result.value == {"plan": "Plus"}


def test_the_breaker_skips_a_model_that_keeps_failing():
    failing = Scripted("a", "connection")
    fallback, _ = chain(failing, Scripted("b", "ok"), retries=0, threshold=2)
    for _ in range(2):
        fallback.run({"a": "p", "b": "p"})
    result = fallback.run({"a": "p", "b": "p"})
    assert failing.calls == 2
    assert result.calls[0].outcome == "skipped" and "circuit open" in result.calls[0].detail


def test_costs_are_charged_and_the_budget_stops_further_calls():
    budget = Budget(max_tokens=300)
    fallback, _ = chain(Scripted("a", "bad"), Scripted("b", "ok"))
    result = fallback.run({"a": "p", "b": "p"}, prompt_tokens={"a": 100, "b": 100}, budget=budget)
    assert result.calls[0].cost == pytest.approx((100 * 1.0 + 10 * 2.0) / 1e6)
    assert budget.tokens == 110
    second = fallback.run({"b": "p"}, prompt_tokens={"b": 200}, budget=budget)
    assert second.reply is None
    assert second.calls[0].outcome == "skipped" and "over budget" in second.calls[0].detail


def test_all_failing_gives_no_reply_and_every_reason():
    fallback, _ = chain(Scripted("a", "timeout"), Scripted("b", "rate_limited"), retries=0)
    result = fallback.run({"a": "p", "b": "p"})
    assert result.reply is None and result.model is None
    assert result.reasons == ["a: timeout (scripted)", "b: rate_limited (scripted)"]


class Streaming(Scripted):
    """Streams each reply a word at a time; "cut:TEXT" streams TEXT, then the connection fails."""

    def run(self, prompt, json_schema=None, streaming_callback=None):
        self.calls += 1
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        text = step.removeprefix("cut:")
        for index, word in enumerate(text.split()):
            streaming_callback(word if index == 0 else " " + word)
        if step.startswith("cut:"):
            raise ModelCallError(self.name, "connection", "the stream broke off")
        return {"replies": [text], "meta": [{"completion_tokens": len(text.split())}]}


def test_a_stream_that_fails_mid_answer_is_announced_as_a_restart():
    fallback, _ = chain(Streaming("a", "cut:Half an", "cut:Half"), Streaming("b", "Whole answer"))
    events = []
    result = fallback.run(
        {"a": "p", "b": "p"}, prompt_tokens={"a": 7, "b": 9}, on_event=events.append
    )
    assert result.model == "b" and result.reply == "Whole answer"
    kinds = [(e["type"], e["model"], e.get("text")) for e in events]
    assert kinds == [
        ("token", "a", "Half"), ("token", "a", " an"), ("restart", "a", None),
        ("token", "a", "Half"), ("restart", "a", None),
        ("token", "b", "Whole"), ("token", "b", " answer"),
    ]  # fmt: skip
    assert events[2]["reason"] == "connection (the stream broke off)"
    # The server reported no prompt usage: the measured prompt size is charged instead.
    assert result.calls[-1].prompt_tokens == 9


def test_structured_replies_are_not_streamed():
    fallback, _ = chain(Scripted("a", '{"plan": "Plus"}'))
    events = []
    schema = {"type": "object"}
    assert fallback.run({"a": "p"}, json_schema=schema, on_event=events.append).value
    assert events == []


class Raising(Scripted):
    """Raises what it is given (an exception instance), or replies with a string."""

    def run(self, prompt, json_schema=None):
        self.calls += 1
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, BaseException):
            raise step
        return {"replies": [step], "meta": [{}]}


class Interrupted(BaseException):
    """Stands for an interruption that tells nothing about the model (Ctrl-C, a cancel)."""


def half_open_chain(*generators):
    clock = [0.0]
    fallback, _ = chain(*generators, retries=0, threshold=1)
    for slot in fallback.slots.values():
        slot.breaker = CircuitBreaker(
            failure_threshold=1, cooldown_seconds=10, clock=lambda: clock[0]
        )
    return fallback, clock


def test_an_unexpected_exception_is_the_models_failure_and_the_chain_falls_back():
    odd = Raising("a", KeyError("choices"), "recovered")
    fallback, clock = half_open_chain(odd, Scripted("b", "ok"))
    result = fallback.run({"a": "p", "b": "p"})
    assert result.model == "b" and result.reply == "ok"
    assert result.calls[0].outcome == "error" and "KeyError" in result.calls[0].detail
    breaker = fallback.slots["a"].breaker
    assert breaker.state == "open"
    # The probe after the cool-down raises again: it is recorded, and the next one goes on.
    odd.script = [TypeError("a reply of an unexpected shape"), "recovered"]
    clock[0] += 10
    assert fallback.run({"a": "p", "b": "p"}).model == "b"
    clock[0] += 10
    assert fallback.run({"a": "p", "b": "p"}).model == "a", "the breaker never sticks open"
    assert breaker.state == "closed"


def test_an_interrupted_probe_frees_the_breaker_for_the_next_probe():
    odd = Raising("a", ModelCallError("a", "server_error", "down"))
    fallback, clock = half_open_chain(odd)
    fallback.run({"a": "p"})
    clock[0] += 10
    odd.script = [Interrupted()]
    with pytest.raises(Interrupted):
        fallback.run({"a": "p"})
    odd.script = ["back"]
    result = fallback.run({"a": "p"})
    assert result.reply == "back", [c.detail for c in result.calls]


class Held(Scripted):
    """Answers once `release` is set; says when a call has started."""

    def __init__(self, name):
        super().__init__(name, "held reply")
        self.started = threading.Semaphore(0)
        self.release = threading.Event()

    def run(self, prompt, json_schema=None):
        self.started.release()
        assert self.release.wait(10)
        return super().run(prompt, json_schema)


def test_a_model_with_a_full_line_is_passed_over_as_busy_without_blame():
    held = Held("a")
    fallback, _ = chain(held, Scripted("b", "from b"), threshold=1)
    slot = fallback.slots["a"]
    slot.max_waiting = 1
    results = {}

    def ask(key):
        results[key] = fallback.run({"a": "p", "b": "p"})

    first = threading.Thread(target=ask, args=("running",))
    first.start()
    assert held.started.acquire(timeout=10)  # the one place is taken
    second = threading.Thread(target=ask, args=("waiting",))
    second.start()
    deadline = time.monotonic() + 10
    while slot.waiting < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert slot.waiting == 1
    # The line is full: the third goes to the next model at once, counting nothing against a.
    third = fallback.run({"a": "p", "b": "p"})
    assert (third.reply, third.model) == ("from b", "b")
    assert [(c.model, c.outcome) for c in third.calls] == [("a", "busy"), ("b", "ok")]
    assert "1 calls already wait" in third.calls[0].detail
    assert slot.breaker.allow()
    alone = fallback.run({"a": "p"})  # no other model: no reply, and why
    assert alone.reply is None and [c.outcome for c in alone.calls] == ["busy"]
    held.release.set()
    first.join(10), second.join(10)
    assert results["running"].model == results["waiting"].model == "a"
    assert slot.waiting == 0 and held.calls == 2
