"""`docent serve`: the pipeline over real HTTP on loopback (uvicorn in a thread)."""

import threading
import time

import httpx
import pytest

from pipelines.streaming import plain
from tests.corpus import QUESTIONS
from tests.servers import running_app


@pytest.fixture(scope="module")
def service(generative_qa):
    from pipelines.service.app import create_app

    closed = []

    class Borrowed:
        """The session's pipeline, lent to the app: its store stays open for other tests."""

        def __getattr__(self, name):
            return getattr(generative_qa, name)

        def close(self):
            closed.append(True)

    app = create_app(lambda: Borrowed(), max_waiting=1, open_access=True)
    with running_app(app) as base:
        yield base
    assert closed == [True], "the app closes its pipeline at shutdown"


def test_health_readiness_and_openapi(service, qa):
    assert httpx.get(f"{service}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{service}/readyz").json()
    assert ready == {"ready": True}, "readiness tells nothing about the documents"
    paths = httpx.get(f"{service}/openapi.json").json()["paths"]
    assert {"/v1/ask", "/v1/search", "/v1/chat/completions", "/v1/feedback"} <= set(paths)
    assert {"/healthz", "/readyz", "/metrics"} <= set(paths)


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
    with pytest.raises(BadRequestError, match="no user message"):
        client.chat.completions.create(
            model="docent", messages=[{"role": "system", "content": question}]
        )


def test_a_streamed_answer_arrives_in_pieces_and_ends_with_its_citations(service):
    from openai import OpenAI

    client = OpenAI(base_url=f"{service}/v1", api_key="unused", timeout=120, max_retries=0)
    question = "Which warehouse do orders ship from?"
    fact, file_name = QUESTIONS[question]
    chunks = list(
        client.chat.completions.create(
            model="docent", messages=[{"role": "user", "content": question}], stream=True
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(pieces) > 1, "the answer streams in pieces, not in one block"
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop" and final.usage.completion_tokens > 0
    trace = final.model_extra["docent"]
    assert trace["event"] == "final" and trace["decision"] == "pass"
    assert not any("docent" in (c.model_extra or {}) for c in chunks[:-1]), "no restart"
    assert plain("".join(pieces)) == plain(trace["answer"]) and fact in trace["answer"]
    assert trace["citations"][0]["source"].endswith(file_name)


def test_feedback_is_stored_with_the_audit_record(service, qa):
    answer = httpx.post(
        f"{service}/v1/ask", json={"question": "Which warehouse do orders ship from?"}, timeout=120
    ).json()
    rated = httpx.post(
        f"{service}/v1/feedback",
        json={"trace_id": answer["trace_id"], "rating": "down", "comment": "too short"},
    )
    assert rated.status_code == 200, rated.text
    record = next(r for r in qa.audit.recent(50) if r["trace_id"] == answer["trace_id"])
    assert (record["feedback"], record["feedback_comment"]) == ("down", "too short")
    unknown = httpx.post(f"{service}/v1/feedback", json={"trace_id": "nope", "rating": "up"})
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
    bad = httpx.post(f"{service}/v1/feedback", json={"trace_id": "x", "rating": "meh"})
    assert bad.status_code == 422


def test_search_returns_passages_without_generating(service):
    question = "Which warehouse do orders ship from?"
    fact, file_name = QUESTIONS[question]
    body = httpx.post(
        f"{service}/v1/search", json={"question": question, "top_k": 2}, timeout=60
    ).json()
    assert 1 <= len(body["passages"]) <= 2
    assert body["passages"][0]["source"].endswith(file_name) and fact in body["passages"][0]["text"]


def test_metrics_count_requests_stages_models_and_decisions(service):
    httpx.post(
        f"{service}/v1/ask", json={"question": "Which warehouse do orders ship from?"}, timeout=120
    )
    text = httpx.get(f"{service}/metrics").text
    assert 'docent_requests_total{path="/v1/ask",status="200"}' in text
    assert 'docent_stage_seconds_bucket{le="0.005",stage="retrieve"}' in text
    assert 'docent_decisions_total{decision="pass",route="rag"}' in text
    assert 'docent_model_calls_total{model="gemma-3-270m",outcome="ok"}' in text
    assert 'docent_tokens_total{kind="completion",model="gemma-3-270m"}' in text
    assert 'docent_waiting_requests{desk="model"} 0.0' in text


def test_the_web_chat_streams_cites_and_takes_feedback(service, qa):
    from tests.browser import chromium_page

    question = "Which warehouse do orders ship from?"
    fact, file_name = QUESTIONS[question]
    with chromium_page() as page:
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(service + "/")
        # Record the draft each time it changes, to see it stream in.
        page.evaluate(
            """() => {
              window.drafts = [];
              new MutationObserver(() => {
                const draft = document.querySelector('.turn .answer.streaming');
                if (draft && draft.textContent) window.drafts.push(draft.textContent);
              }).observe(document.getElementById('log'),
                         {subtree: true, childList: true, characterData: true});
            }"""
        )
        page.fill("#question", question)
        page.click("#send")
        cite = page.locator(".turn .answer .cite").first
        cite.wait_for(timeout=120_000)
        assert fact in page.inner_text(".turn .answer")
        cite.click()
        source = page.inner_text(".turn .source")
        assert file_name in source and fact in source
        page.click(".turn .rate button[data-rating='up']")
        page.wait_for_selector(".rate button[aria-pressed='true']", timeout=10_000)
        meta = page.inner_text(".turn .meta")
        assert meta.startswith("pass")
        drafts = page.evaluate("window.drafts")
        assert len(set(drafts)) > 1 and fact in drafts[-1], "the draft grows piece by piece"
        assert errors == []
    rated = [r for r in qa.audit.recent(50) if r["feedback"] == "up"]
    assert rated and rated[0]["question"] == question


def test_a_request_past_its_timeout_gets_504_and_a_queued_one_never_runs(qa):
    from pipelines.service.app import create_app

    calls = []

    class Slow:
        """The session's pipeline, two seconds slower per question."""

        def __getattr__(self, name):
            return getattr(qa, name)

        def ask(self, question, **kwargs):
            calls.append(question)
            time.sleep(2)
            return qa.ask(question, **kwargs)

        def close(self):
            pass

    with running_app(create_app(lambda: Slow(), request_timeout=1.0, open_access=True)) as base:
        results = {}

        def send(question):
            results[question] = httpx.post(
                f"{base}/v1/ask", json={"question": question}, timeout=60
            )

        first = threading.Thread(target=send, args=("Which warehouse do orders ship from?",))
        first.start()
        time.sleep(0.3)
        send("How long does the espresso machine warranty last?")
        first.join()
        time.sleep(2.5)  # the first answer finishes in the background
    assert {r.status_code for r in results.values()} == {504}
    assert all("no answer within 1 s" in r.json()["detail"] for r in results.values())
    assert calls == ["Which warehouse do orders ship from?"], "the queued request never ran"


def test_a_stream_whose_models_all_fail_ends_with_an_error_event(qa):
    from openai import APIError, OpenAI

    from pipelines.config import Settings
    from pipelines.query.pipeline import QAPipeline
    from pipelines.service.app import create_app
    from tests.servers import unused_base_url

    down = {
        "provider": "openai",
        "base_url": unused_base_url(),
        "model": "down",
        "retries": 0,
        "tokenizer": "gemma-3-270m",
    }
    settings = Settings(data_dir=qa.settings.data_path, models={"down": down})

    class Borrowed(QAPipeline):
        def close(self):
            pass  # the session's store stays open

    with running_app(create_app(lambda: Borrowed(settings, qa.store), open_access=True)) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="unused", timeout=60, max_retries=0)
        stream = client.chat.completions.create(
            model="docent",
            messages=[{"role": "user", "content": "Which warehouse do orders ship from?"}],
            stream=True,
        )
        with pytest.raises(APIError, match="cannot reach"):
            list(stream)


def test_a_model_cut_off_mid_stream_restarts_with_the_fallback_over_http(qa):
    from openai import OpenAI

    from pipelines.config import Settings
    from pipelines.query.pipeline import QAPipeline
    from pipelines.service.app import create_app
    from tests.servers import FaultProxy, unused_base_url

    class Borrowed(QAPipeline):
        def close(self):
            pass  # the session's store stays open

    with FaultProxy(unused_base_url()) as proxy:
        proxy.inject("cut:Orders ship by")
        flaky = {
            "provider": "openai",
            "base_url": proxy.base_url,
            "model": "flaky",
            "retries": 0,
            "tokenizer": "gemma-3-270m",
            "price_in": 0.0,
        }
        models = {"flaky": flaky, "gemma-3-270m": {"provider": "llama_cpp"}}
        settings = Settings(
            data_dir=qa.settings.data_path,
            models=models,
            routes={"question": {"models": ["flaky", "gemma-3-270m"]}},
        )
        app = create_app(lambda: Borrowed(settings, qa.store), open_access=True)
        with running_app(app) as base:
            client = OpenAI(base_url=f"{base}/v1", api_key="unused", timeout=120, max_retries=0)
            chunks = list(
                client.chat.completions.create(
                    model="docent",
                    messages=[{"role": "user", "content": "Which warehouse do orders ship from?"}],
                    stream=True,
                )
            )
    events = [(c.model_extra or {}).get("docent") for c in chunks]
    restart = next(i for i, e in enumerate(events) if e and e["event"] == "restart")
    before = "".join(c.choices[0].delta.content or "" for c in chunks[:restart])
    after = "".join(c.choices[0].delta.content or "" for c in chunks[restart:])
    assert before == "Orders ship by" and "cut off" in events[restart]["reason"]
    final = events[-1]
    assert final["event"] == "final" and final["model"] == "gemma-3-270m"
    assert plain(after) == plain(final["answer"]) and "Rotterdam" in after
