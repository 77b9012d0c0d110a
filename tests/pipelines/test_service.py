"""`docent serve`: the pipeline over real HTTP on loopback (uvicorn in a thread)."""

import threading
import time

import httpx
import pytest

from tests.corpus import QUESTIONS
from tests.servers import free_port


@pytest.fixture(scope="module")
def service(qa):
    import uvicorn

    from pipelines.service import create_app

    closed = []

    class Borrowed:
        """The session's pipeline, lent to the app: its store stays open for other tests."""

        def __getattr__(self, name):
            return getattr(qa, name)

        def close(self):
            closed.append(True)

    app = create_app(lambda: Borrowed(), max_waiting=1)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    yield base
    server.should_exit = True
    thread.join(timeout=10)
    assert closed == [True], "the app closes its pipeline at shutdown"


def test_health_readiness_and_openapi(service, qa):
    assert httpx.get(f"{service}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{service}/readyz").json()
    assert ready == {"ready": True, "chunks": qa.store.count_documents()}
    paths = httpx.get(f"{service}/openapi.json").json()["paths"]
    assert {"/v1/ask", "/healthz", "/readyz"} <= set(paths)


def test_ask_returns_the_answer_with_citations_and_trace(service):
    question = "Which warehouse do orders ship from?"
    fact, file_name = QUESTIONS[question]
    response = httpx.post(f"{service}/v1/ask", json={"question": question}, timeout=120)
    assert response.status_code == 200, response.text
    body = response.json()
    assert fact in body["answer"] and body["decision"] == "pass"
    assert body["citations"][0]["source"].endswith(file_name)
    assert len(body["trace_id"]) == 32 and body["retrieval"]["verdict"] == "pass"
    assert body["timings"]["total"] > 0 and body["models_tried"][0]["outcome"] == "ok"


def test_bad_requests_get_clear_errors(service):
    empty = httpx.post(f"{service}/v1/ask", json={"question": ""})
    assert empty.status_code == 422 and "question" in empty.text
    blank = httpx.post(f"{service}/v1/ask", json={"question": "   "}, timeout=60)
    assert blank.status_code == 400 and "the question is empty" in blank.json()["detail"]


def test_a_burst_beyond_the_queue_bound_gets_429_and_none_is_lost(service):
    # One request holds the model and one may wait (max_waiting=1): of four sent at once,
    # every request gets an answer or a 429 with Retry-After, never an error or nothing.
    results = []

    def send():
        response = httpx.post(
            f"{service}/v1/ask",
            json={"question": "How long does the espresso machine warranty last?"},
            timeout=300,
        )
        results.append(response)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(r.status_code for r in results)
    assert len(codes) == 4 and set(codes) <= {200, 429} and codes.count(200) >= 2
    assert 429 in codes
    for refused in (r for r in results if r.status_code == 429):
        assert refused.headers["retry-after"] == "2"


def test_the_official_openai_client_gets_answers_and_citations(service):
    from openai import BadRequestError, OpenAI

    client = OpenAI(base_url=f"{service}/v1", api_key="unused", timeout=120, max_retries=0)
    question = "How many beans do loyalty members earn per euro spent?"
    fact, file_name = QUESTIONS[question]
    completion = client.chat.completions.create(
        model="docent",
        messages=[
            {"role": "system", "content": "Answer from the documents."},
            {"role": "user", "content": question},
        ],
    )
    assert fact in completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop" and completion.usage.total_tokens > 0
    trace = completion.model_extra["docent"]
    assert trace["citations"][0]["source"].endswith(file_name)
    assert completion.id == f"chatcmpl-{trace['trace_id']}"
    with pytest.raises(BadRequestError, match="streaming is not supported yet"):
        client.chat.completions.create(
            model="docent", messages=[{"role": "user", "content": question}], stream=True
        )
