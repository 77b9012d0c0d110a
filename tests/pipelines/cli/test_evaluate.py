"""`docent eval`: scores of the real pipeline over the test corpus, gates, reports."""

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from components.errors import ConfigError
from evaluation.config import EvaluationSettings
from evaluation.datasets import EvalItem
from evaluation.html_report import write_html
from evaluation.reports import read_baseline, write_json, write_junit
from pipelines.config import Settings
from pipelines.evaluate import evaluate
from pipelines.query.pipeline import QAPipeline
from tests.browser import chromium_page
from tests.cli import docent
from tests.corpus import QUESTIONS
from tests.servers import LlamaServer, unused_base_url

ITEMS = [
    EvalItem(str(n), question, (fact,), (), (file_name,))
    for n, (question, (fact, file_name)) in enumerate(QUESTIONS.items())
]


def test_scores_gates_and_reports_of_a_real_run(generative_qa, tmp_path):
    settings = EvaluationSettings(thresholds={"retrieval_hit": 0.9, "token_f1": 0.99})
    report, gates = evaluate(generative_qa, ITEMS, settings)
    assert report["items_scored"] == 4 and report["errors"] == 0
    assert report["summary"]["retrieval_hit"]["mean"] == 1.0
    assert report["summary"]["answered"]["mean"] == 1.0
    assert 0 < report["summary"]["rouge_l"]["mean"] <= 1  # through Ragas
    assert 0.2 < report["summary"]["semantic_similarity"]["mean"] <= 1  # local MiniLM
    assert "context_recall" not in report["summary"]  # the set has no reference contexts
    for item in report["items"]:
        fact = item["references"][0]
        assert fact in item["answer"]
        assert 0 < item["scores"]["token_f1"] <= 1
    by_metric = {g.metric: g for g in gates}
    assert by_metric["retrieval_hit"].passed
    # The answers hold the facts in whole sentences: F1 against the bare fact is far below 1.
    assert not by_metric["token_f1"].passed and not report["passed"]

    write_json(tmp_path / "run.json", report)
    baseline = read_baseline(tmp_path / "run.json")
    assert set(baseline) == {"0", "1", "2", "3"}
    better = {i: {**s, "token_f1": 1.0} for i, s in baseline.items()}
    _, regressions = evaluate(generative_qa, ITEMS, EvaluationSettings(), better)
    drops = {g.metric: g for g in regressions}
    assert not drops["token_f1"].passed and "significant drop" in drops["token_f1"].reason
    assert drops["retrieval_hit"].passed

    write_junit(tmp_path / "gates.xml", "docent.eval.test", gates, report["seconds"])
    suite = ET.parse(tmp_path / "gates.xml").getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    (failure,) = suite.iter("failure")
    assert "whole interval lies below the threshold 0.99" in failure.get("message")

    with pytest.raises(ConfigError, match="cannot score faithfulness"):
        evaluate(generative_qa, ITEMS, EvaluationSettings(thresholds={"faithfulness": 0.5}))


def test_right_wrong_and_abstained_are_counted_first(generative_qa):
    (question, (fact, _)), *_ = QUESTIONS.items()
    items = [
        EvalItem("right", question, answers=(fact,)),
        EvalItem("wrong-key", question, answers=("an answer no document gives",)),
        EvalItem("unanswerable", "What is the name of the CEO's first pet?", unanswerable=True),
    ]
    report, _ = evaluate(generative_qa, items, EvaluationSettings())
    assert list(report["summary"])[:3] == ["answer_correct", "wrong", "abstained_correctly"]
    scores = {item["id"]: item["scores"] for item in report["items"]}
    assert scores["right"]["answer_correct"] == 1.0 and scores["right"]["wrong"] == 0.0
    # Answered (as the first item was) but without the key: wrong, however wordy.
    assert scores["wrong-key"]["answered"] == 1.0
    assert (scores["wrong-key"]["answer_correct"], scores["wrong-key"]["wrong"]) == (0.0, 1.0)
    # An unanswerable question is right only when abstained on.
    unanswerable = scores["unanswerable"]
    assert "answer_correct" not in unanswerable
    assert unanswerable["abstained_correctly"] == 1.0 - unanswerable["answered"]
    assert unanswerable["wrong"] == unanswerable["answered"]


def test_eval_command_exits_1_when_a_gate_fails_and_writes_junit(tmp_path):
    golden = tmp_path / "golden.jsonl"
    golden.write_text(
        "".join(
            json.dumps({"question": i.question, "reference": i.references[0]}) + "\n"
            for i in ITEMS[:2]
        )
    )
    env = {**os.environ, "DOCENT_DATA_DIR": str(tmp_path / "data")}
    args = [
        "eval",
        str(golden),
        "--threshold",
        "answered=0.5",
        "--junit",
        str(tmp_path / "gates.xml"),
    ]
    # Nothing ingested: refused before any question runs.
    empty = docent(*args, "-o", str(tmp_path / "run.json"), env=env, timeout=300)
    assert empty.returncode != 0 and "ingest documents first" in empty.stderr
    assert not (tmp_path / "run.json").exists()
    # A collection that cannot answer these questions: every answer abstains, the gate fails.
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "parking.md").write_text(
        "# Parking\n\nEmployees park in garage B on level minus two.\n"
    )
    assert docent("ingest", "--quiet", str(tmp_path / "docs"), env=env).returncode == 0
    result = docent(*args, "-o", str(tmp_path / "run.json"), env=env, timeout=300)
    assert result.returncode == 1, result.stderr
    assert "FAIL  answered = 0.000" in result.stdout
    assert ET.parse(tmp_path / "gates.xml").getroot().get("failures") == "1"


def test_every_answer_is_in_the_audit_log(generative_qa):
    from components.gates.audit_log import AuditLog

    answer = generative_qa.ask(ITEMS[0].question)
    (row,) = [
        r
        for r in AuditLog(path=generative_qa.settings.audit_path).recent(50)
        if r["trace_id"] == answer.trace_id
    ]
    assert row["decision"] == answer.decision == "pass"
    assert row["verification_score"] == answer.verification["score"]
    assert row["retrieval_score"] == answer.retrieval["top_similarity"]
    assert answer.retrieval["top_similarity"] >= max(c.score for c in answer.citations)
    assert row["model"] == "gemma-3-270m" and row["seconds"] == answer.timings["total"]


def test_beir_retrieval_is_scored_from_the_command_line(tmp_path):
    beir = tmp_path / "tiny"
    beir.mkdir()
    corpus = [
        ("d1", "Espresso warranty", "The espresso machine warranty lasts 27 months."),
        ("d2", "Shipping", "Orders ship from the Rotterdam warehouse within two days."),
        ("d3", "Brewing", "Brew filter coffee with water at 94 degrees."),
    ]
    (beir / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in corpus)
    )
    (beir / "queries.jsonl").write_text(
        '{"_id": "q1", "text": "How long is the warranty of the espresso machine?"}\n'
        '{"_id": "q2", "text": "Where do orders ship from?"}\n'
    )
    (beir / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    env = {**os.environ, "DOCENT_DATA_DIR": str(tmp_path / "data")}
    args = ["eval", str(beir), "--threshold", "ndcg@10=0.9", "--json"]
    result = docent(*args, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["ndcg@10"]["mean"] == 1.0
    assert report["summary"]["recall@100"]["mean"] == 1.0
    assert report["ingest"] == {"ingested": 3, "unchanged": 0}
    assert report["passed"] and report["gates"][0]["metric"] == "ndcg@10"


def _with_judge(qa, judge: dict) -> QAPipeline:
    """The test pipeline with a judge model added to its registry."""
    settings = Settings.model_validate(
        {
            "data_dir": str(qa.settings.data_path),
            "models": {
                "gemma-3-270m": {"generation": "generative"},
                "judge": {"capabilities": ["extract"], **judge},
            },
        }
    )
    return QAPipeline(settings, qa.store)


def test_a_judge_endpoint_scores_faithfulness_through_ragas_with_repeats(generative_qa):
    with LlamaServer() as server:
        pipe = _with_judge(
            generative_qa,
            {
                "provider": "openai",
                "base_url": server.base_url,
                "model": server.alias,
                "tokenizer": "gemma-3-270m",
                "max_new_tokens": 192,
                "temperature": 0.0,
                "timeout": 300,
            },
        )
        settings = EvaluationSettings(
            judge_model="judge",
            judge_repeats=2,
            judge_metrics=["faithfulness"],
            thresholds={"faithfulness": 0.0},
        )
        report, gates = evaluate(pipe, ITEMS[:1], settings)
    (item,) = report["items"]
    assert "judge_error" not in item, item.get("judge_error")
    # Ragas' two prompts (statements, then verdicts) per run; a grammar built from Ragas'
    # schema makes every reply parse, so each run is a score, never NaN or an error.
    assert report["judge"] == {"model": "judge", "repeats": 2, "calls": 4}
    runs = item["judge_runs"]["faithfulness"]
    assert len(runs) == 2 and all(0.0 <= r <= 1.0 for r in runs)
    assert item["scores"]["faithfulness"] == pytest.approx(sum(runs) / 2)
    assert report["summary"]["faithfulness"]["n"] == 1 and gates[0].passed


def test_a_failing_judge_leaves_its_metric_undefined_and_its_gate_fails(generative_qa):
    pipe = _with_judge(
        generative_qa,
        {"provider": "openai", "base_url": unused_base_url(), "model": "x", "retries": 0},
    )
    settings = EvaluationSettings(
        judge_model="judge", judge_metrics=["faithfulness"], thresholds={"faithfulness": 0.5}
    )
    report, (gate,) = evaluate(pipe, ITEMS[:1], settings)
    (item,) = report["items"]
    assert "judge: connection" in item["judge_error"] and item["scores"]["faithfulness"] is None
    assert "faithfulness" not in report["summary"] and item["scores"]["answered"] == 1.0
    assert not gate.passed and "no item could be scored" in gate.reason
    assert not report["passed"]
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        evaluate(pipe, ITEMS[:1], EvaluationSettings(judge_model="nope"))


def test_the_html_report_renders_in_headless_chromium(generative_qa, tmp_path):
    settings = EvaluationSettings(thresholds={"token_f1": 0.99, "retrieval_hit": 0.5})
    report, _ = evaluate(generative_qa, ITEMS[:3], settings)
    baseline = {item["id"]: {**item["scores"], "token_f1": 1.0} for item in report["items"]}
    page_path = tmp_path / "report.html"
    write_html(page_path, report, "docent eval: test <corpus>", baseline)
    errors = []
    with chromium_page() as page:
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.as_uri())
        assert page.title() == "docent eval: test <corpus>"  # escaped, shown as text
        assert page.inner_text("#verdict") == "FAIL"
        gates = page.inner_text("#gates")
        assert "whole interval lies below the threshold 0.99" in gates
        # Both plots are drawn: SVG with a real size on the page, metric names as text.
        for figure in ("#intervals", "#distributions"):
            box = page.locator(f"{figure} svg").bounding_box()
            assert box["width"] > 300 and box["height"] > 100, figure
        assert "token_f1" in page.inner_text("#intervals")
        assert "1.000" in page.inner_text("#baseline")
        worst = page.locator("#worst .case")
        assert worst.count() == 3
        first = worst.first.inner_text()
        assert "token_f1" in first and "below its threshold 0.99" in first
        assert ITEMS[0].references[0] in page.inner_text("#worst")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert not errors
    assert (tmp_path / "report.png").stat().st_size > 20_000


def test_an_intent_set_is_scored_with_the_configured_classifier(tmp_path):
    config = Path(__file__).resolve().parents[3] / "configs" / "support.yaml"
    examples = [
        ["I was charged twice for my subscription this month", "billing"],
        ["I can't log in, my password reset link expired", "account_access"],
        ["The app crashes every time I open a note", "technical_problem"],
        ["Let me speak to a real person please", "talk_to_human"],
        ["What is the capital of Australia?", "oos"],
    ]
    data = tmp_path / "intents.json"
    data.write_text(json.dumps({"val": examples, "train": []}))
    env = {**os.environ, "DOCENT_DATA_DIR": str(tmp_path / "data")}
    args = ["eval", str(data), "--format", "intents", "--config", str(config)]
    result = docent(
        *args,
        "--split",
        "val",
        "--threshold",
        "intent_accuracy=0.5",
        "--json",
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    summary = report["summary"]
    assert summary["intent_accuracy"]["n"] == 5 and summary["in_scope_accuracy"]["n"] == 4
    assert summary["out_of_scope_recall"]["n"] == 1
    assert summary["in_scope_accuracy"]["mean"] >= 0.75 and report["passed"]

    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps([["hello", "no_such_intent"]]))
    result = docent(args[0], str(wrong), *args[2:], env=env, timeout=300)
    assert result.returncode != 0 and "no_such_intent" in result.stderr


def test_testset_generation_without_a_capable_model_says_what_to_configure(tmp_path):
    env = {**os.environ, "DOCENT_DATA_DIR": str(tmp_path / "data")}
    args = ["testset", "-o", str(tmp_path / "golden.jsonl")]
    result = docent(*args, env=env, timeout=120)
    assert result.returncode != 0 and "needs a capable LLM" in result.stderr
    assert "evaluation.generator_model" in result.stderr
    config = tmp_path / "tiny.yaml"
    config.write_text("evaluation:\n  generator_model: gemma-3-270m\n")
    result = docent(*args, "--config", str(config), env=env, timeout=120)
    assert result.returncode != 0 and "too small" in result.stderr
    assert not (tmp_path / "golden.jsonl").exists()


def test_the_generator_reads_the_schema_ragas_states():
    from ragas.prompt import PydanticPrompt
    from ragas.testset.synthesizers.single_hop.prompts import QueryAnswerGenerationPrompt

    from evaluation.testset import stated_schema

    prompt: PydanticPrompt = QueryAnswerGenerationPrompt()
    text = prompt.to_string(prompt.examples[0][0])
    assert stated_schema(text) == prompt.output_model.model_json_schema()
    assert stated_schema("Write a question about the passage.") is None


class _Quoting:
    """A stand-in for the pipeline that answers with a span and quotes a sentence, as an
    extractive model does: only the wiring of the scores is under test here."""

    settings = Settings()

    def __init__(self, span: str) -> None:
        self.span = span

    def ask(self, question):
        from pipelines.answer import Answer

        sentence = "Orders ship from the Rotterdam warehouse within two business days."
        text = f"{self.span}: \u201c{sentence}\u201d [1]"
        answer = Answer(question, text, [], True, decision="pass")
        answer.verification = {"extractive": {"method": "span", "span": self.span}}
        return answer

    def search(self, question):
        return []

    def check_ready(self):
        """Nothing to check: the stand-in answers without a collection."""


@pytest.mark.parametrize(("span", "right"), [("the Rotterdam warehouse", 1.0), ("two", 0.0)])
def test_an_extractive_answer_is_scored_by_its_span_not_its_quote(span, right):
    question = "Which warehouse do orders ship from?"
    items = [EvalItem("q", question, references=("Rotterdam",), answers=("Rotterdam",))]
    report, _ = evaluate(_Quoting(span), items, EvaluationSettings())
    scores = report["items"][0]["scores"]
    assert scores["answer_correct"] == right and scores["wrong"] == 1.0 - right
    assert (scores["token_f1"] > 0) == bool(right)
