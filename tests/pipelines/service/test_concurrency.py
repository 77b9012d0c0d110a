"""Concurrent serving: answers whose model is an endpoint run at once, each model bounded by
its `max_concurrency`; breakers, the audit log and sessions stay right under many threads.
Against real HTTP servers on loopback (`tests.servers.FaultProxy` as a model that answers,
or fails, after a fixed delay) and the real service over the handbook."""

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from components.generation.fallback_generator import FallbackGenerator, ModelSlot
from components.generation.openai_completion_generator import OpenAICompletionGenerator
from components.routing.circuit_breaker import CircuitBreaker
from components.routing.model_router import ModelCard
from tests.pipelines.service.test_service_limits import ingest_handbook
from tests.servers import FaultProxy, endpoint_model, running_app, unused_base_url

REPO = Path(__file__).resolve().parents[3]
QUESTION = "How many days per week can employees work remotely?"
REPLY = "reply:Employees may work remotely up to three days per week."
DELAY = 1.0


def endpoint_chain(proxy: FaultProxy, max_concurrency: int, threshold: int = 3):
    """A chain of one endpoint model at `proxy`, with no retries."""
    generator = OpenAICompletionGenerator(base_url=proxy.base_url, model="slow", timeout=30)
    generator.warm_up()
    slot = ModelSlot(
        card=ModelCard("slow", 2048, 64),
        generator=generator,
        retries=0,
        breaker=CircuitBreaker(failure_threshold=threshold, cooldown_seconds=60),
        max_concurrency=max_concurrency,
    )
    return FallbackGenerator({"slow": slot}), slot


def at_once(count: int, call):
    """`call(i)` on `count` threads released together; the results in order."""
    start = threading.Barrier(count)

    def run(index):
        start.wait()
        return call(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_many_simultaneous_failures_open_the_breaker_once_and_are_all_counted():
    with FaultProxy(unused_base_url(), delay=0.3) as proxy:
        proxy.inject("500")
        chain, slot = endpoint_chain(proxy, max_concurrency=32)
        results = at_once(32, lambda _: chain.run({"slow": "Question: why?"}))
        # Every call was let through while the breaker was closed, and every failure counts;
        # those that ended after it opened did not open it again.
        assert [r.model for r in results] == [None] * 32
        assert [c.outcome for r in results for c in r.calls] == ["server_error"] * 32
        assert proxy.counts == {"500": 32}
        assert (slot.breaker.failures, slot.breaker.openings) == (32, 1)
        assert slot.breaker.state == "open"
        assert 59 < slot.breaker.seconds_until_probe() <= 60
        # While it is open, nothing reaches the endpoint.
        skipped = at_once(8, lambda _: chain.run({"slow": "Question: why?"}))
        assert all(r.calls[0].outcome == "skipped" for r in skipped)
        assert proxy.requests == 32


def test_an_endpoint_serves_at_most_its_max_concurrency_at_once():
    with FaultProxy(unused_base_url(), delay=0.2) as proxy:
        proxy.inject(REPLY)
        chain, _ = endpoint_chain(proxy, max_concurrency=4)
        results = at_once(16, lambda _: chain.run({"slow": "Question: why?"}))
        assert all(r.model == "slow" for r in results)
        assert proxy.requests == 16 and proxy.peak == 4
        # The wait for a place is not counted as the call's time.
        assert max(r.calls[0].seconds for r in results) < 1.5


@pytest.fixture(scope="module")
def handbook(tmp_path_factory):
    """The handbook samples ingested into a data directory of this module."""
    return ingest_handbook(tmp_path_factory.mktemp("concurrency") / "data")


@contextmanager
def served(data: Path, proxy: FaultProxy, max_concurrency: int):
    """The service over `data` whose only model is the endpoint at `proxy`: its base URL and
    its `Service`."""
    from pipelines.config import Settings
    from pipelines.query.pipeline import QAPipeline
    from pipelines.service.app import create_app

    config = Settings(
        data_dir=data, models={"slow": endpoint_model(proxy.base_url, max_concurrency)}
    )
    app = create_app(lambda: QAPipeline.from_settings(config), open_access=True, max_waiting=16)
    with running_app(app) as base:
        yield base, app.state.service


def ask_at_once(base: str, count: int, body: dict | None = None) -> tuple[list, float]:
    """`count` questions sent together; the responses and the seconds until the last."""
    body = body or {"question": QUESTION}
    started = time.perf_counter()
    responses = at_once(count, lambda _: httpx.post(f"{base}/v1/ask", json=body, timeout=120))
    return responses, time.perf_counter() - started


def audit_trace_ids(data: Path) -> list[str]:
    with sqlite3.connect(data / "audit.sqlite") as db:
        return [row[0] for row in db.execute("SELECT trace_id FROM decisions")]


def test_answers_from_an_endpoint_run_at_once_and_max_concurrency_1_serialises_them(handbook):
    with FaultProxy(unused_base_url(), delay=DELAY) as proxy:
        proxy.inject(REPLY)
        with served(handbook, proxy, max_concurrency=8) as (base, _):
            httpx.post(f"{base}/v1/ask", json={"question": QUESTION}, timeout=120)  # warm
            before = set(audit_trace_ids(handbook))
            responses, seconds = ask_at_once(base, 8)
            assert [r.status_code for r in responses] == [200] * 8, responses[0].text
            # Eight calls of 1 s, one after another, would take 8 s.
            assert seconds < 3 * DELAY, seconds
            assert proxy.peak == 8
            # One audit row per answer: none lost, none twice.
            traces = {r.json()["trace_id"] for r in responses}
            assert len(traces) == 8 and set(audit_trace_ids(handbook)) - before == traces
    with FaultProxy(unused_base_url(), delay=DELAY) as proxy:
        proxy.inject(REPLY)
        with served(handbook, proxy, max_concurrency=1) as (base, _):
            responses, seconds = ask_at_once(base, 4)
            assert [r.status_code for r in responses] == [200] * 4, responses[0].text
            assert proxy.peak == 1 and seconds >= 4 * DELAY, seconds


def test_simultaneous_failures_through_the_service_open_the_breaker_once(handbook):
    with FaultProxy(unused_base_url(), delay=0.3) as proxy:
        proxy.inject("500")
        with served(handbook, proxy, max_concurrency=16) as (base, service):
            responses, _ = ask_at_once(base, 16)
            assert [r.status_code for r in responses] == [503] * 16
            breaker = service.pipeline.registry.chain.slots["slow"].breaker
            assert (breaker.failures, breaker.openings) == (16, 1)
            assert proxy.counts == {"500": 16}
            # Retrieval-only requests never needed the model.
            search, _ = ask_at_once(base, 4, {"question": QUESTION, "retrieval_only": True})
            assert [r.status_code for r in search] == [200] * 4
            assert proxy.requests == 16


def test_concurrent_turns_of_one_session_are_all_kept_in_order(handbook):
    with FaultProxy(unused_base_url(), delay=0.2) as proxy:
        proxy.inject(REPLY)
        with served(handbook, proxy, max_concurrency=8) as (base, _):
            session = httpx.post(f"{base}/v1/sessions", timeout=30).json()["session_id"]
            body = {"question": QUESTION, "session_id": session}
            responses, _ = ask_at_once(base, 8, body)
            assert [r.status_code for r in responses] == [200] * 8, responses[0].text
            turns = httpx.get(f"{base}/v1/sessions/{session}", timeout=30).json()["turns"]
            assert sorted(t["number"] for t in turns) == list(range(1, 9))
            assert {t["trace_id"] for t in turns} == {r.json()["trace_id"] for r in responses}


def test_past_a_models_line_a_request_is_refused_429_and_nothing_is_lost(handbook):
    from pipelines.config import Settings
    from pipelines.query.pipeline import QAPipeline
    from pipelines.service.app import create_app

    with FaultProxy(unused_base_url(), delay=2.0) as proxy:
        proxy.inject(REPLY)
        # Five answers may run at once (1 + 4 places), but questions only go to "slow": one
        # runs, two wait in its line (max_waiting 2), and the other two find it full.
        config = Settings(
            data_dir=handbook,
            models={
                "slow": endpoint_model(proxy.base_url, 1),
                "other": endpoint_model(unused_base_url(), 4, name="other"),
            },
            routes={"question": {"models": ["slow"]}},
        )
        app = create_app(lambda: QAPipeline.from_settings(config), open_access=True, max_waiting=2)
        with running_app(app) as base:
            before = set(audit_trace_ids(handbook))
            responses, _ = ask_at_once(base, 5)
            codes = sorted(r.status_code for r in responses)
            assert codes == [200, 200, 200, 429, 429], [r.text for r in responses]
            for refused in (r for r in responses if r.status_code == 429):
                assert refused.headers["Retry-After"] == "2"
                assert "busy" in refused.json()["detail"]
            assert proxy.peak == 1 and proxy.requests == 3
            answered = {r.json()["trace_id"] for r in responses if r.status_code == 200}
            assert set(audit_trace_ids(handbook)) - before == answered
            metrics = httpx.get(f"{base}/metrics").text
            assert 'docent_rejected_total{reason="model_busy"} 2.0' in metrics
