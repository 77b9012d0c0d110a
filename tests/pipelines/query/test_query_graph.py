"""The rag route as a Haystack pipeline: dumped, shown, and loaded from a YAML that inserts the
user's own components (tests/pipelines/query/user_components.py)."""

import os
from pathlib import Path

import pytest
import yaml

from components.errors import ConfigError, DocentError
from pipelines.config import Settings
from pipelines.query.pipeline import QAPipeline
from tests.cli import docent
from tests.corpus import QUESTIONS

USER = "tests.pipelines.query.user_components"
WARRANTY = "How long does the espresso machine warranty last?"


def with_pipeline(qa, tmp_path: Path, edit=None, modules=(USER,)) -> QAPipeline:
    """A pipeline over `qa`'s store running the built-in graph's YAML after `edit`."""
    data = yaml.safe_load(qa.query_pipeline.dumps())
    if edit is not None:
        edit(data)
    path = tmp_path / "rag.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    settings = Settings.model_validate(
        {
            "data_dir": str(qa.settings.data_path),
            "query": {"pipeline": str(path), "modules": list(modules)},
        }
    )
    return QAPipeline(settings, qa.store)


def graph_of(data: dict) -> tuple[dict, set]:
    """The components and connections of a pipeline's dict."""
    return data["components"], {(c["sender"], c["receiver"]) for c in data["connections"]}


def insert(data: dict, name: str, kind: str, init: dict, rewire: dict[str, tuple]) -> None:
    """Add component `name`, replacing each connection sender -> receiver of `rewire` by
    sender -> name.input and name.output -> receiver."""
    data["components"][name] = {"type": f"{USER}.{kind}", "init_parameters": init}
    for (sender, receiver), (given, made) in rewire.items():
        data["connections"] = [
            c for c in data["connections"] if (c["sender"], c["receiver"]) != (sender, receiver)
        ]
        data["connections"].append({"sender": sender, "receiver": f"{name}.{given}"})
        data["connections"].append({"sender": f"{name}.{made}", "receiver": receiver})


def test_the_dumped_pipeline_loads_back_and_answers_the_same(qa, tmp_path):
    loaded = with_pipeline(qa, tmp_path)
    assert graph_of(loaded.query_pipeline.to_dict()) == graph_of(qa.query_pipeline.to_dict())
    question = next(iter(QUESTIONS))
    first, again = qa.ask(question).to_dict(), loaded.ask(question).to_dict()
    for record in (first, again):  # everything but the ids and the clock
        record.pop("trace_id"), record.pop("timings")
        for call in record["models_tried"]:
            call.pop("seconds")
    assert again == first


def test_a_query_rewriter_before_the_search_changes_what_is_searched(qa, tmp_path):
    def add_rewriter(data):
        insert(
            data,
            "rewrite",
            "QueryRewriter",
            {"replacements": {"frobnicator": "espresso machine"}},
            {("classify.rag", "search.query"): ("query", "query")},
        )

    rewritten = with_pipeline(qa, tmp_path, add_rewriter)
    asked = "How long does the frobnicator warranty last?"
    answer = rewritten.ask(asked)
    # The search ran on the rewritten words; the answer is to the question as asked.
    expected = qa.search(WARRANTY)[0].meta["similarity"]
    assert answer.retrieval["top_similarity"] == round(expected, 4)
    assert qa.search(asked)[0].meta["similarity"] != expected
    assert answer.question == asked
    assert answer.citations and answer.citations[0].source.endswith("warranty.pdf")
    assert "rewrite" in answer.timings


def test_a_filter_before_the_answer_decides_what_it_is_made_from(qa, tmp_path):
    def add_filter(data):
        insert(
            data,
            "not_warranty",
            "SourceFilter",
            {"exclude": "warranty"},
            {("injections.documents", "answer.documents"): ("documents", "documents")},
        )

    filtered = with_pipeline(qa, tmp_path, add_filter)
    relevant = qa.search(WARRANTY)
    assert Path(relevant[0].meta["source"]).name == "warranty.pdf"
    answer = filtered.ask(WARRANTY)
    others = [d for d in relevant if "warranty" not in Path(d.meta["source"]).name]
    assert answer.retrieval["passages"] == len(others)
    assert not any(c.source.endswith("warranty.pdf") for c in answer.citations)
    assert "27 months" not in answer.answer


def test_a_run_that_ends_before_any_route_answers_is_an_error_not_an_empty_answer(qa, tmp_path):
    def add_router(data):
        insert(
            data,
            "only_brewing",
            "RouteBySource",
            {"source": "brewing"},
            {("injections.documents", "answer.documents"): ("documents", "documents")},
        )

    routed = with_pipeline(qa, tmp_path, add_router)
    assert routed.ask("What water temperature should be used for brewing coffee?").citations
    with pytest.raises(DocentError, match="ended without an answer"):
        routed.ask(WARRANTY)


@pytest.mark.parametrize(
    ("edit", "modules", "says"),
    [
        (
            lambda d: insert(d, "f", "SourceFilter", {"exclude": "x"}, {}),
            (),
            f"add '{USER}' to query.modules",
        ),
        (
            lambda d: d["components"]["search"].update(type=f"{USER}.SourceFilter"),
            (USER,),
            "give your component another name",
        ),
        (lambda d: d["components"].pop("answer"), (USER,), "has no 'answer' component"),
        (
            lambda d: d.update(
                connections=[c for c in d["connections"] if c["sender"] != "classify.direct"]
            ),
            (USER,),
            "classify.direct is not connected",
        ),
        (
            lambda d: insert(
                d,
                "needy",
                "NeedsAContext",
                {},
                {("injections.documents", "answer.documents"): ("documents", "documents")},
            ),
            (USER,),
            "needy.context is not connected",
        ),
    ],
    ids=[
        "module-not-allowed",
        "docent-name-taken",
        "no-answer",
        "route-unconnected",
        "input-unconnected",
    ],
)
def test_a_pipeline_yaml_docent_cannot_run_is_refused_naming_what_to_change(
    qa, tmp_path, edit, modules, says
):
    with pytest.raises(ConfigError, match="query.pipeline") as refused:
        with_pipeline(qa, tmp_path, edit, modules)
    assert says in str(refused.value)


def test_docent_pipeline_shows_and_dumps_the_configured_pipeline(tmp_path):
    rag = tmp_path / "rag.yaml"
    config = tmp_path / "docent.yaml"
    config.write_text(
        f"data_dir: {tmp_path / 'data'}\nquery:\n  pipeline: rag.yaml\n  modules: [{USER}]\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])}
    dumped = docent("--config", str(config), "pipeline", "dump", env={**env, "DOCENT_CONFIG": ""})
    assert "query.pipeline" in dumped.stderr and "cannot read" in dumped.stderr  # not written yet
    built_in = tmp_path / "built-in.yaml"
    built_in.write_text(
        docent("pipeline", "dump", env={**env, "DOCENT_DATA_DIR": str(tmp_path / "d")}).stdout
    )
    data = yaml.safe_load(built_in.read_text())
    assert set(data["components"]) == {
        "classify",
        "search",
        "injections",
        "answer",
        "direct",
        "handoff",
        "reply",
    }
    insert(
        data,
        "rewrite",
        "QueryRewriter",
        {"replacements": {}},
        {("classify.rag", "search.query"): ("query", "query")},
    )
    rag.write_text(yaml.safe_dump(data), encoding="utf-8")
    shown = docent("--config", str(config), "pipeline", "show", env=env)
    assert shown.returncode == 0, shown.stderr
    assert f"rewrite     {USER}.QueryRewriter" in shown.stdout
    assert "rewrite.query -> search.query" in shown.stdout
    assert "classify.rag -> rewrite.query" in shown.stdout
    drawn = docent("--config", str(config), "pipeline", "show", "--mermaid", env=env)
    assert 'rewrite -- "query → query" --> search' in drawn.stdout
    # Showing needs no data directory, and leaves none (a running server may hold one).
    assert not (tmp_path / "data").exists()
    again = docent("--config", str(config), "pipeline", "dump", env=env)
    assert graph_of(yaml.safe_load(again.stdout)) == graph_of(data)
