"""Shared fixtures: a corpus in several formats, ingested once into a real Qdrant local store;
and the rule that marks tests `slow` (`make test-fast` leaves them out)."""

import inspect
import types
from pathlib import Path

import pytest

import components  # noqa: F401  (offline defaults before any model library loads)
from tests.corpus import write_corpus

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
# A test is slow when its body, one of its fixtures or a function of tests/ that they call
# names one of these: each costs seconds.
SLOW_NAMES = frozenset(
    {
        "QAPipeline",  # answers with the shipped generation model
        "LlamaCppGenerator",  # loads the shipped generation model
        "gguf_model_path",  # loads the shipped generation model
        "LlamaServer",  # the llama.cpp server in a child process (tests/servers.py)
        "docent",  # the CLI in a child process (tests/cli.py)
        "DOCENT",  # the CLI in a child process (tests/cli.py)
        "running_app",  # an app served over HTTP on loopback (tests/servers.py)
        "chromium_page",  # Chromium (tests/browser.py)
        "subprocess",  # any other child process
    }
)
# Unmarked tests that take longer than this are listed at the end of the run, to be marked.
FAST_LIMIT_S = 2.0


def _names(function: types.FunctionType, seen: set) -> set[str]:
    """The global and attribute names a function uses, with those of its nested functions and
    of the functions of tests/ that it calls."""
    names, codes = set(), [function.__code__]
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(const for const in code.co_consts if isinstance(const, types.CodeType))
    for name in list(names):
        helper = function.__globals__.get(name)
        if inspect.isfunction(helper) and helper.__module__.startswith("tests."):
            if helper not in seen:
                seen.add(helper)
                names |= _names(inspect.unwrap(helper), seen)
    return names


def _is_slow(item: pytest.Item) -> bool:
    functions = [getattr(item, "function", None)]
    for definitions in item._fixtureinfo.name2fixturedefs.values():
        # A fixture defined in a test class is a bound method: its function is what runs.
        functions.append(getattr(definitions[-1].func, "__func__", definitions[-1].func))
    seen = set(functions)
    return any(
        _names(function, seen) & SLOW_NAMES
        for function in functions
        if inspect.isfunction(function)
    )


def pytest_collection_modifyitems(config, items):
    """Marks `slow` every test whose body or fixtures (all the way down) use one of SLOW_NAMES.
    Tests slow for another reason (a corpus parsed, a time limit waited out, a Ray cluster)
    carry `@pytest.mark.slow` or their module's `pytestmark`, with the reason beside it."""
    for item in items:
        if "slow" not in item.keywords and _is_slow(item):
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Lists the tests not marked slow that took longer than FAST_LIMIT_S, so that the fast
    tier stays fast as tests are added (fixture set-up counts: it is paid by whoever runs first)."""
    durations = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if isinstance(report, pytest.TestReport) and "slow" not in report.keywords:
                durations[report.nodeid] = durations.get(report.nodeid, 0.0) + report.duration
    over = sorted((d, nodeid) for nodeid, d in durations.items() if d > FAST_LIMIT_S)
    if over:
        terminalreporter.section(f"tests not marked slow that took over {FAST_LIMIT_S:.0f} s")
        for duration, nodeid in reversed(over):
            terminalreporter.write_line(f"{duration:6.1f} s  {nodeid}")


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    """The test corpus, written once per session."""
    folder = tmp_path_factory.mktemp("corpus")
    write_corpus(folder)
    return folder


@pytest.fixture(scope="session")
def ingested(tmp_path_factory, corpus_dir):
    """Settings whose store holds the test corpus, and the report of its first ingest."""
    from pipelines.config import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("data"))
    indexer = settings.open_indexer()
    try:
        report = indexer.ingest([corpus_dir])
    finally:
        indexer.close()
    return settings, report


@pytest.fixture(scope="session")
def qa(ingested):
    """A question-answering pipeline over the ingested test corpus."""
    from pipelines.query.pipeline import QAPipeline

    settings, _ = ingested
    pipeline = QAPipeline.from_settings(settings)
    yield pipeline
    pipeline.close()


@pytest.fixture(scope="session")
def generative_qa(qa):
    """The same store with the shipped model writing its answers (`generation: generative`):
    for tests of what surrounds a free-text answer (streaming drafts, evaluation scores), as a
    capable model behind an endpoint would write them."""
    from pipelines.config import Settings
    from pipelines.query.pipeline import QAPipeline

    settings = Settings.model_validate(
        {
            "data_dir": str(qa.settings.data_path),
            "models": {"gemma-3-270m": {"generation": "generative"}},
        }
    )
    yield QAPipeline(settings, qa.store)
