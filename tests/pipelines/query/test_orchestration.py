"""Routing, fallbacks, breakers, escalation, budgets and structured output, for real.

Models are a real llama.cpp server on loopback (the shipped Gemma, OpenAI-compatible) behind a
fault-injecting proxy, and the same Gemma in process. Retrieval runs over the ingested test
corpus.
"""

import time

import pytest

from components.errors import AllModelsFailedError
from components.generation.cited_answer_builder import ABSTAIN
from pipelines.config import Settings
from pipelines.query.pipeline import QAPipeline
from pipelines.streaming import plain
from tests.servers import FaultProxy, LlamaServer, unused_base_url

QUESTION = "Which warehouse do orders ship from?"
FACT = "Rotterdam"


@pytest.fixture(scope="module")
def llama_server():
    with LlamaServer() as server:
        yield server


@pytest.fixture
def proxy(llama_server):
    with FaultProxy(llama_server.base_url) as proxy:
        yield proxy


def remote(base_url, alias, **extra):
    """A model of the registry served over the OpenAI-compatible API."""
    return {
        "provider": "openai",
        "base_url": base_url,
        "model": alias,
        "timeout": 30.0,
        "retries": 1,
        "backoff": 0.05,
        "tokenizer": "gemma-3-270m",
        **extra,
    }


LOCAL = {"provider": "llama_cpp", "model": "gemma-3-270m"}


def pipeline(qa, **sections) -> QAPipeline:
    """A pipeline with the given configuration sections over the ingested test store."""
    settings = Settings.model_validate({"data_dir": str(qa.settings.data_path), **sections})
    return QAPipeline(settings, qa.store)


def outcomes(answer, model):
    return [c["outcome"] for c in answer.models_tried if c["model"] == model]


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [
        ("500", "server_error"),
        ("429", "rate_limited"),
        ("hang", "timeout"),
        ("garbage", "bad_output"),
        ("empty", "bad_output"),
    ],
)
def test_each_fault_falls_back_to_the_next_model(qa, proxy, llama_server, fault, outcome):
    proxy.inject(fault)
    proxy.hang_seconds = 10
    pipe = pipeline(
        qa,
        models={"flaky": remote(proxy.base_url, llama_server.alias, timeout=3.0), "local": LOCAL},
        routes={"question": {"models": ["flaky", "local"]}},
    )
    answer = pipe.ask(QUESTION)
    assert outcomes(answer, "flaky") == [outcome, outcome], "one call and one retry"
    assert proxy.requests == 2
    assert answer.model == "local" and outcomes(answer, "local") == ["ok"]
    assert FACT in answer.answer and answer.decision == "pass"


def test_an_endpoint_that_is_down_falls_back(qa):
    pipe = pipeline(
        qa,
        models={"down": remote(unused_base_url(), "gemma"), "local": LOCAL},
        routes={"question": {"models": ["down", "local"]}},
    )
    answer = pipe.ask(QUESTION)
    assert outcomes(answer, "down") == ["connection", "connection"]
    assert answer.model == "local" and FACT in answer.answer


def test_the_breaker_opens_then_a_probe_closes_it(qa, proxy, llama_server):
    pipe = pipeline(
        qa,
        models={"flaky": remote(proxy.base_url, llama_server.alias, retries=0), "local": LOCAL},
        routes={"question": {"models": ["flaky", "local"]}},
        # The cooldown outlasts the local model's answer on a loaded machine.
        breaker={"failure_threshold": 2, "cooldown_seconds": 6.0},
    )
    proxy.inject("500")
    for _ in range(2):
        assert outcomes(pipe.ask(QUESTION), "flaky") == ["server_error"]
    skipped = pipe.ask(QUESTION)
    assert outcomes(skipped, "flaky") == ["skipped"] and skipped.model == "local"
    assert proxy.requests == 2, "an open breaker sends nothing"
    proxy.inject("pass")
    time.sleep(6.0)
    probed = pipe.ask(QUESTION)
    assert probed.model == "flaky" and FACT in probed.answer
    assert pipe.registry.chain.slots["flaky"].breaker.state == "closed"


def test_costs_tokens_and_trace_are_recorded(qa, proxy, llama_server):
    pipe = pipeline(
        qa,
        models={"paid": remote(proxy.base_url, llama_server.alias, price_in=3.0, price_out=15.0)},
    )
    answer = pipe.ask(QUESTION)
    [call] = answer.models_tried
    assert call["outcome"] == "ok" and call["prompt_tokens"] > 100
    assert call["cost"] == pytest.approx(
        (call["prompt_tokens"] * 3.0 + call["completion_tokens"] * 15.0) / 1e6
    )
    assert answer.cost == pytest.approx(call["cost"])
    assert answer.tokens == {
        "prompt": call["prompt_tokens"],
        "completion": call["completion_tokens"],
    }
    assert answer.route == "rag" and answer.model == "paid" and len(answer.trace_id) == 32
    for stage in ("classify", "retrieve", "pack", "generate", "cite", "verify", "total"):
        assert stage in answer.timings, stage
    assert 0.5 <= answer.verification["score"] <= 1


def test_the_router_picks_the_cheapest_model_that_fits(qa, proxy, llama_server):
    pipe = pipeline(
        qa,
        models={
            "pricey": remote(proxy.base_url, llama_server.alias, price_in=5.0),
            "tiny": {**LOCAL, "context_window": 256, "max_new_tokens": 32},
            "cheap": {**LOCAL, "price_in": 0.1},
        },
    )
    answer = pipe.ask(QUESTION)
    assert answer.model == "cheap" and proxy.requests == 0
    assert outcomes(answer, "tiny") == ["skipped"]


def test_every_model_down_gives_a_clear_error(qa):
    pipe = pipeline(
        qa,
        models={
            "a": remote(unused_base_url(), "gemma", retries=0),
            "b": remote(unused_base_url(), "gemma", retries=0),
        },
    )
    with pytest.raises(AllModelsFailedError) as caught:
        pipe.ask(QUESTION)
    message = str(caught.value)
    assert "a: connection" in message and "b: connection" in message
    assert "endpoints are running" in message


def test_a_weak_answer_is_escalated_to_the_next_model(qa, proxy, llama_server):
    proxy.inject("reply:Orders ship by carrier pigeon from the moon base every Tuesday.")
    pipe = pipeline(
        qa,
        models={"liar": remote(proxy.base_url, llama_server.alias), "local": LOCAL},
        routes={"question": {"models": ["liar", "local"]}},
    )
    answer = pipe.ask(QUESTION)
    assert outcomes(answer, "liar") == ["ok", "weak_answer"]
    assert answer.model == "local" and FACT in answer.answer and answer.decision == "pass"
    assert answer.verification["score"] >= answer.verification["threshold"]


def test_with_no_stronger_model_left_it_abstains_and_offers_a_person(qa, proxy, llama_server):
    proxy.inject("reply:Orders ship by carrier pigeon from the moon base every Tuesday.")
    pipe = pipeline(
        qa,
        models={"liar": remote(proxy.base_url, llama_server.alias)},
        handoff={"offer_on_abstain": True},
    )
    answer = pipe.ask(QUESTION)
    # Relevant passages were found, but no answer held: it says so and quotes the best one,
    # rather than claiming that the documents do not say.
    assert answer.decision == "abstain" and not answer.answer.startswith(ABSTAIN)
    assert answer.answer.startswith("I could not verify an answer")
    assert answer.handoff_offered and "person" in answer.answer
    verification = answer.verification
    assert verification["score"] < verification["threshold"]
    assert verification["abstain_reason"] == "unverified"
    assert verification["rejected"]["model"] == "liar"
    assert "carrier pigeon" in verification["rejected"]["draft"]
    assert verification["unsupported"], "the trace says what could not be supported"
    (citation,) = answer.citations
    quoted = answer.answer.split("\u201c", 1)[1].split("\u201d", 1)[0]
    assert quoted[:40] in " ".join(citation.snippet.split()), "the quote is the cited passage"


@pytest.mark.parametrize(
    ("reply", "decision"),
    [("the Rotterdam warehouse", "pass"), ("the Hamburg warehouse", "abstain")],
)
def test_an_extractive_model_shows_only_what_the_documents_write(
    qa, proxy, llama_server, reply, decision
):
    proxy.inject(f"reply:{reply}")
    pipe = pipeline(
        qa, models={"small": remote(proxy.base_url, llama_server.alias, generation="extractive")}
    )
    events = []
    answer = pipe.ask(QUESTION, on_event=events.append)
    assert answer.decision == decision and FACT in answer.answer
    shown = " ".join(e.get("text") or "" for e in events) + answer.answer
    if decision == "pass":
        # The span as the document writes it, then its sentence, quoted and cited.
        assert answer.answer.startswith("the Rotterdam warehouse: \u201cOrders ship from")
        assert answer.answer.endswith("\u201d [1]") and answer.supported
        assert answer.verification["extractive"]["span"] == "the Rotterdam warehouse"
    else:
        # A reply the documents do not write is never shown, not even as a streamed draft.
        assert "Hamburg" not in shown
        assert answer.verification["rejected"]["draft"] == reply
        assert answer.verification["abstain_reason"] == "unverified"
    assert answer.citations[0].source.endswith("shipping.docx")


def test_a_refused_extractive_answer_escalates_to_a_generative_model(qa, proxy, llama_server):
    proxy.inject("reply:the Hamburg warehouse", times=1)
    pipe = pipeline(
        qa,
        models={
            "small": remote(proxy.base_url, llama_server.alias, generation="extractive"),
            "writer": {**LOCAL, "generation": "generative"},
        },
        routes={"question": {"models": ["small", "writer"]}},
    )
    answer = pipe.ask(QUESTION)
    assert outcomes(answer, "small") == ["ok", "weak_answer"]
    assert answer.model == "writer" and FACT in answer.answer and answer.decision == "pass"
    assert "extractive" not in answer.verification


def test_the_budget_stops_escalation(qa, proxy, llama_server):
    proxy.inject("reply:Orders ship by carrier pigeon from the moon base every Tuesday.")
    pipe = pipeline(
        qa,
        models={
            "liar": remote(proxy.base_url, llama_server.alias),
            "expensive": {**LOCAL, "price_in": 1000.0},
        },
        routes={"question": {"models": ["liar", "expensive"]}},
        budget={"max_cost": 0.01},
    )
    answer = pipe.ask(QUESTION)
    assert outcomes(answer, "expensive") == ["skipped"]
    assert "over budget" in next(
        c["detail"] for c in answer.models_tried if c["model"] == "expensive"
    )
    assert answer.decision == "abstain" and "budget" in answer.verification["reason"]


TICKET = {
    "type": "object",
    "properties": {
        "product": {"type": "string"},
        "urgent": {"type": "boolean"},
    },
    "required": ["product", "urgent"],
    "additionalProperties": False,
}


def test_structured_output_is_validated_and_invalid_json_falls_back(qa, proxy, llama_server):
    proxy.inject("reply:the product is the espresso machine", times=2)
    pipe = pipeline(
        qa,
        models={"remote": remote(proxy.base_url, llama_server.alias), "local": LOCAL},
        routes={
            "question": {"type": "direct", "json_schema": TICKET, "models": ["remote", "local"]}
        },
    )
    answer = pipe.ask("My espresso machine leaks water everywhere, please help urgently!")
    assert outcomes(answer, "remote") == ["bad_output", "bad_output"]
    assert answer.model == "local" and answer.decision == "extract"
    assert set(answer.data) == {"product", "urgent"} and isinstance(answer.data["urgent"], bool)


def test_a_grammar_makes_the_server_return_valid_json(qa, proxy, llama_server):
    pipe = pipeline(
        qa,
        models={"remote": remote(proxy.base_url, llama_server.alias, max_new_tokens=48)},
        routes={"question": {"type": "direct", "json_schema": TICKET}},
    )
    answer = pipe.ask("The sync of my notes app fails, not urgent.")
    assert outcomes(answer, "remote") == ["ok"]
    assert set(answer.data) == {"product", "urgent"}


def test_intents_route_requests_and_a_model_breaks_close_calls(qa):
    pipe = pipeline(
        qa,
        models={"local": LOCAL},
        intents={
            "examples": {
                "shipping": ["Where do orders ship from?", "How fast is delivery?"],
                "greeting": ["Hello!", "Good morning"],
            },
            "out_of_scope_threshold": 0.2,
            "tie_break_model": "local",
            "tie_break_margin": 1.0,
        },
        routes={
            "shipping": {"type": "rag"},
            "greeting": {"type": "reply", "message": "Hello! Ask me about our coffee."},
        },
    )
    answer = pipe.ask("Hi there, good morning!")
    assert answer.intent["tie_break"] == "local"
    assert answer.intent["name"] in ("shipping", "greeting")
    assert [c["model"] for c in answer.models_tried][:1] == ["local"]
    shipped = pipe.ask(QUESTION)
    assert shipped.intent["name"] == "shipping" and FACT in shipped.answer


@pytest.mark.parametrize(("verdict", "decision"), [("yes", "pass"), ("no", "abstain")])
def test_an_llm_judge_must_confirm_the_answer(qa, proxy, llama_server, verdict, decision):
    proxy.inject(f"reply:{verdict}")
    pipe = pipeline(
        qa,
        models={"local": LOCAL, "judge": remote(proxy.base_url, llama_server.alias)},
        routes={"question": {"models": ["local"]}},
        verification={"judge_model": "judge"},
    )
    answer = pipe.ask(QUESTION)
    assert [c["model"] for c in answer.models_tried][:2] == ["local", "judge"]
    assert answer.decision == decision
    if decision == "pass":
        assert answer.verification["judge"] == {"model": "judge", "verdict": "yes"}
    else:
        assert answer.verification["score"] == 0.0


def test_the_local_judge_answers_under_a_grammar(qa):
    pipe = pipeline(qa, models={"local": LOCAL}, verification={"judge_model": "local"})
    answer = pipe.ask(QUESTION)
    judge_calls = [c for c in answer.models_tried if c["model"] == "local"]
    assert len(judge_calls) >= 2 and judge_calls[1]["outcome"] == "ok"
    assert answer.decision in ("pass", "abstain")
    if answer.decision == "pass":
        assert answer.verification["judge"]["verdict"] == "yes"


def test_a_batch_runs_in_parallel_against_an_endpoint(qa, llama_server, tmp_path):
    import json

    from ingest.batch_runner import BatchRunner
    from pipelines.batch import FIELDS, check_workers, make_task
    from tests.corpus import QUESTIONS

    # The server answers one request at a time: the others wait in its queue.
    endpoint = remote(llama_server.base_url, llama_server.alias, timeout=60.0)
    pipe = pipeline(qa, models={"remote": endpoint})
    check_workers(pipe.settings, 3)  # only endpoint models: parallel items are allowed
    items = [(f"q{n}", question) for n, question in enumerate(QUESTIONS)]
    out = tmp_path / "answers.jsonl"
    report = BatchRunner(out, fields=FIELDS["ask"], workers=3).run(items, make_task("ask", pipe))
    assert (report.done, report.failed) == (len(QUESTIONS), [])
    records = {r["question"]: r for r in map(json.loads, out.read_text().splitlines())}
    for question, (fact, file_name) in QUESTIONS.items():
        assert records[question]["model"] == "remote"
        assert records[question]["citations"][0]["source"].endswith(file_name)
        assert fact in records[question]["answer"]


def test_the_runtime_gate_on_retrieval_passes_escalates_or_abstains(qa):
    from components.gates.audit_log import AuditLog

    def ask(**retrieval):
        return pipeline(
            qa,
            models={"first": LOCAL, "second": LOCAL},
            routes={"question": {"models": ["first", "second"]}},
            retrieval=retrieval,
        ).ask(QUESTION)

    passed = ask()
    assert passed.retrieval["verdict"] == "pass" and passed.model == "first"
    top = passed.retrieval["top_similarity"]
    assert 0.3 < top <= 1 and passed.retrieval["passages"] >= 1

    escalated = ask(escalate_below=round(top + 0.01, 4))
    assert escalated.retrieval["verdict"] == "escalate" and escalated.model == "second"
    [skip] = [c for c in escalated.models_tried if c["model"] == "first"]
    assert skip["outcome"] == "skipped" and "below retrieval.escalate_below" in skip["detail"]
    assert FACT in escalated.answer and escalated.decision == "pass"

    abstained = ask(min_similarity=round(top + 0.01, 4))
    assert abstained.decision == "abstain" and abstained.models_tried == []
    assert abstained.retrieval == {
        **passed.retrieval,
        "min_similarity": round(top + 0.01, 4),
        "passages": 0,
        "verdict": "abstain",
    }
    assert f"the best scored {top:.2f}" in abstained.verification["reason"]
    rows = {r["trace_id"]: r for r in AuditLog(path=qa.settings.audit_path).recent(50)}
    assert rows[abstained.trace_id]["decision"] == "abstain"
    assert rows[abstained.trace_id]["retrieval_score"] == top


def streamed(pipe, question=QUESTION):
    """The answer, every event streamed, and the text since the last restart (without
    citation markers, which the model may or may not write)."""
    events = []
    answer = pipe.ask(question, on_event=events.append)
    tail = []
    for event in events:
        tail = [] if event["type"] == "restart" else tail + [event["text"]]
    return answer, events, plain("".join(tail))


def test_a_stream_cut_mid_answer_restarts_with_the_next_model(qa, proxy, llama_server):
    proxy.inject("cut:Orders ship by")
    pipe = pipeline(
        qa,
        models={"flaky": remote(proxy.base_url, llama_server.alias, retries=0), "local": LOCAL},
    )
    answer, events, tail = streamed(pipe)
    assert [e["text"] for e in events[:3]] == ["Orders", " ship", " by"]
    assert {e["model"] for e in events[:3]} == {"flaky"}
    restart = events[3]
    assert restart["type"] == "restart" and restart["model"] == "flaky"
    assert "cut off" in restart["reason"]
    assert answer.model == "local" and FACT in answer.answer and answer.decision == "pass"
    assert {e.get("model") for e in events[4:]} <= {"local", None}
    assert tail == plain(answer.answer)


def test_a_weak_streamed_answer_restarts_and_an_abstention_replaces_the_draft(
    qa, proxy, llama_server
):
    lie = "Orders ship by carrier pigeon from the moon base every Tuesday."
    proxy.inject(f"reply:{lie}")
    pipe = pipeline(
        qa,
        models={"liar": remote(proxy.base_url, llama_server.alias), "local": LOCAL},
        routes={"question": {"models": ["liar", "local"]}},
    )
    answer, events, tail = streamed(pipe)
    restarts = [e for e in events if e["type"] == "restart"]
    assert "".join(e["text"] for e in events[: events.index(restarts[0])]) == lie
    assert "a stronger model answers" in restarts[0]["reason"]
    assert answer.model == "local" and tail == plain(answer.answer)

    alone = pipeline(qa, models={"liar": remote(proxy.base_url, llama_server.alias)})
    answer, events, tail = streamed(alone)
    assert answer.decision == "abstain" and tail == plain(answer.answer)
    assert events[-2]["type"] == "restart" and "docent abstained" in events[-2]["reason"]


def test_a_masked_answer_is_not_streamed_before_it_is_masked(qa):
    pipe = pipeline(qa, models={"local": LOCAL}, safety={"mask_pii": True})
    answer, events, tail = streamed(pipe)
    assert [e["type"] for e in events] == ["token"] and tail == plain(answer.answer)
