"""The `docent` command as a user runs it: a real process, offline, on the embedded Qdrant."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli import docent
from tests.corpus import write_bad_files, write_corpus

# Loaded by every Python process started with this folder on PYTHONPATH: any attempt to resolve
# a host name or open an internet socket is written to a log and fails.
SOCKET_GUARD = """
import os
import socket

_LOG = os.environ["DOCENT_TEST_NETWORK_LOG"]


def _refuse(what):
    with open(_LOG, "a") as log:
        log.write(what + "\\n")
    raise OSError("network access is blocked by the test: " + what)


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _refuse(f"connect {address}")
    return _connect(self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _refuse(f"connect {address}")
    return _connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    _refuse(f"resolve {host}")


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
socket.getaddrinfo = _guarded_getaddrinfo
"""


@pytest.fixture()
def offline_env(tmp_path):
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(SOCKET_GUARD)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DOCENT_", "HF_", "TRANSFORMERS_"))
    }
    env.update(
        PYTHONPATH=str(guard),
        DOCENT_DATA_DIR=str(tmp_path / "data"),
        DOCENT_TEST_NETWORK_LOG=str(tmp_path / "network.log"),
    )
    return env


def test_ingest_then_ask_offline_on_the_embedded_store(tmp_path, offline_env):
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    ingest = docent("ingest", "--json", str(corpus), env=offline_env)
    assert ingest.returncode == 0, ingest.stderr
    summary = json.loads(ingest.stdout)
    assert summary["ingested"] == 8 and summary["failed"] == 0 and summary["chunks_written"] > 0
    assert "ingest" not in ingest.stderr  # --json to a script: no progress bar
    # The embedded store (Qdrant Edge): the collection lives in files under the data directory.
    assert (tmp_path / "data" / "edge" / "docent" / "edge_config.json").is_file()
    listed = docent("sources", "--check", "--json", env=offline_env)
    assert listed.returncode == 0, listed.stderr
    listing = json.loads(listed.stdout)
    assert len(listing["sources"]) == 8
    assert sum(row["chunks"] for row in listing["sources"]) == summary["chunks_written"]
    assert listing["check"] == {"missing": [], "orphaned": [], "pending": [], "out_of_date": []}

    # The common commands start fast: the list reads SQLite alone, and answering loads neither
    # torch (Haystack imports it; it is deferred until used) nor sentence-transformers, spaCy
    # or qdrant-client, none of which the configured backends use (bench/startup.py times it).
    listed = _docent_reporting_imports("sources", env=offline_env)
    assert listed.returncode == 0, listed.stderr
    assert "8 files" in listed.stdout and "loaded: []" in listed.stderr
    ask = _docent_reporting_imports(
        "ask", "--json", "Which warehouse do orders ship from?", env=offline_env
    )
    assert ask.returncode == 0, ask.stderr
    assert "loaded: ['haystack', 'onnxruntime', 'llama_cpp']" in ask.stderr
    answer = json.loads(ask.stdout)
    assert "Rotterdam" in answer["answer"]
    first = answer["citations"][0]
    assert Path(first["source"]).name == "shipping.docx"
    assert set(first) == {"number", "source", "page", "section", "snippet", "score"}
    assert {"retrieve", "generate", "total"} <= set(answer["timings"])
    assert not (tmp_path / "network.log").exists(), (tmp_path / "network.log").read_text()


def test_bad_files_are_listed_and_the_exit_code_says_so(tmp_path, offline_env):
    write_bad_files(tmp_path / "batch")
    (tmp_path / "batch" / "good.md").write_text("# Good\n\nThis file is fine.\n")
    result = docent("ingest", str(tmp_path / "batch"), env=offline_env)
    assert result.returncode == 1
    assert "Ingested 1 files" in result.stdout and "5 failed" in result.stdout
    # The bar is drawn at once, says when models load, and ends counting every file.
    redraws = result.stderr.replace("\r", "\n")
    assert "ingest: checking" in redraws and "ingest: loading models" in redraws
    assert "ingest: 100%" in redraws and "6/6" in redraws and "failed=5" in redraws
    assert "locked.pdf: the PDF is encrypted" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_fails_with_the_key_path_and_no_traceback(tmp_path, offline_env):
    config = tmp_path / "bad.yaml"
    config.write_text("chunking:\n  max_tokns: 100\n")
    result = docent("ingest", "--config", str(config), str(tmp_path), env=offline_env)
    assert result.returncode == 2
    assert "chunking.max_tokns: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command", [["sources"], ["keys", "list"], ["batch", "ask", "q.jsonl", "-o", "a.jsonl"]]
)
@pytest.mark.parametrize("before", [True, False])
def test_config_is_taken_before_the_command_or_after_it(tmp_path, offline_env, command, before):
    config = tmp_path / "bad.yaml"
    config.write_text("chunking:\n  max_tokns: 100\n")
    given = ["--config", str(config)]
    result = docent(*(given + command if before else command + given), env=offline_env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "chunking.max_tokns: unknown key" in result.stderr


def test_ask_before_any_ingest_says_what_to_do(offline_env):
    result = docent("ask", "Anything?", env=offline_env)
    assert result.returncode == 1
    assert "ingest documents first" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [[], ["ingest"], ["ask"], ["handoffs"], ["sources"], ["batch"], ["eval"], ["audit"], ["keys"]],
)
def test_help_has_examples(command, offline_env):
    result = docent(*command, "--help", env=offline_env)
    assert result.returncode == 0
    assert "Examples:" in result.stdout and "docent " in result.stdout


def test_keys_are_created_listed_revoked_and_serving_without_them_is_a_choice(offline_env):
    for host in ("127.0.0.1", "0.0.0.0"):
        refused = docent("serve", "--host", host, env=offline_env)
        assert refused.returncode == 2 and "docent keys create" in refused.stderr
        assert "--open" in refused.stderr
    created = docent("keys", "create", "desk", "--tenant", "acme", "--json", env=offline_env)
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    assert key["key"].startswith("dk_")
    listed = docent("keys", "list", "--json", env=offline_env)
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["tenant"], r["scopes"], r["revoked"]) for r in rows] == [
        (key["id"], "acme", "ask", None)
    ]
    assert key["key"] not in listed.stdout
    assert docent("keys", "revoke", key["id"], env=offline_env).returncode == 0
    again = docent("keys", "revoke", key["id"], env=offline_env)
    assert again.returncode == 1 and "no active key" in again.stderr
    # Every key is revoked, and still the service may not be opened.
    reopened = docent("serve", "--open", env=offline_env)
    assert reopened.returncode == 2 and "stays closed" in reopened.stderr


def test_the_socket_guard_really_blocks(offline_env, tmp_path):
    probe = "import urllib.request; urllib.request.urlopen('http://example.com', timeout=5)"
    result = subprocess.run(
        [sys.executable, "-c", probe], check=False, env=offline_env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "resolve example.com" in (tmp_path / "network.log").read_text()


# Runs the CLI and says, on exit, which of the libraries that take long to import it had
# loaded by then (torch counts once its stand-in was replaced: see components.deferred_import).
_CLI_WITH_LOAD_REPORT = """
import atexit, sys
heavy = ("haystack", "torch._C", "sentence_transformers", "spacy", "qdrant_client",
         "onnxruntime", "llama_cpp", "ragas")
atexit.register(lambda: print("loaded:", [m for m in heavy if m in sys.modules], file=sys.stderr))
from pipelines.cli.main import main
sys.argv[0] = "docent"
main()
"""


def _docent_reporting_imports(*args: str, env: dict) -> subprocess.CompletedProcess:
    """`docent ARGS...` in a child process that reports the heavy libraries it loaded."""
    return subprocess.run(
        [sys.executable, "-c", _CLI_WITH_LOAD_REPORT, *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
        timeout=600,
    )


@pytest.mark.parametrize("command", [["ingest", "samples/handbook"], ["ask", "Anything?"]])
def test_a_store_in_use_is_refused_before_anything_loads(offline_env, tmp_path, command):
    from components.stores.edge_document_store import EdgeDocumentStore

    held = EdgeDocumentStore(path=str(tmp_path / "data" / "edge" / "docent"), embedding_dim=384)
    held.count_documents()  # opens the shard: this process holds it, like a running ingest
    try:
        result = _docent_reporting_imports(*command, env=offline_env)
    finally:
        held.close()
    assert result.returncode == 1
    assert "is in use by another docent process" in result.stderr
    assert "loaded: []" in result.stderr


def test_a_deleted_file_is_named_by_ingest_and_sources_check(tmp_path, offline_env):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "kept.md").write_text("# Kept\n\nThe office opens at 8:00.\n", encoding="utf-8")
    (folder / "deleted.md").write_text("# Gone\n\nThe old office closed.\n", encoding="utf-8")
    assert docent("ingest", str(folder), env=offline_env).returncode == 0
    (folder / "deleted.md").unlink()

    check = docent("sources", "--check", env=offline_env)
    assert check.returncode == 1
    assert "deleted: " in check.stdout and "notes/deleted.md: deleted from disk" in check.stdout
    assert "--prune" in check.stdout
    again = docent("ingest", str(folder), env=offline_env)
    assert again.returncode == 0
    assert "1 deleted from disk but still served" in again.stdout
    assert "gone: " in again.stderr and "notes/deleted.md: deleted from disk" in again.stderr
    pruned = docent("ingest", "--prune", str(folder), env=offline_env)
    assert pruned.returncode == 0 and "1 removed files" in pruned.stdout


def test_the_cli_works_beside_a_running_server_through_it(tmp_path, offline_env):
    import httpx

    from tests.servers import free_port

    # The CLI reaches the server on loopback: no socket guard here.
    offline_env = {k: v for k, v in offline_env.items() if k != "PYTHONPATH"}
    (tmp_path / "first").mkdir()
    (tmp_path / "first" / "parking.md").write_text(
        "# Parking\n\nEmployees park in garage B on level minus two.\n"
    )
    (tmp_path / "second").mkdir()
    (tmp_path / "second" / "canteen.md").write_text(
        "# Canteen\n\nThe canteen serves lunch from noon until two in the afternoon.\n"
    )
    assert docent("ingest", "--quiet", str(tmp_path / "first"), env=offline_env).returncode == 0
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("docent")), "serve", "--open", "--port", str(port)],
        env=offline_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    record = tmp_path / "data" / "serve.json"
    try:
        # The record is written before the models load: the CLI waits for the server.
        for _ in range(600):
            if record.is_file():
                break
            time.sleep(0.1)
        assert record.stat().st_mode & 0o777 == 0o600  # its token is the owner's only

        ask = docent("ask", "--json", "Where do employees park?", env=offline_env)
        assert ask.returncode == 0, ask.stderr
        assert json.loads(ask.stdout)["citations"][0]["source"] == "first/parking.md"

        ingest = docent("ingest", "--json", str(tmp_path / "second"), env=offline_env)
        assert ingest.returncode == 0, ingest.stderr
        assert json.loads(ingest.stdout)["ingested"] == 1
        listed = docent("sources", env=offline_env)
        assert "first/parking.md" in listed.stdout and "second/canteen.md" in listed.stdout

        # Other commands need the store to themselves: told so, with the server's process.
        refused = docent("eval", str(tmp_path / "set.jsonl"), env=offline_env)
        assert refused.returncode == 1
        assert f"kill {server.pid}" in refused.stderr and "Traceback" not in refused.stderr
        pruning = docent("ingest", "--prune", str(tmp_path / "first"), env=offline_env)
        assert pruning.returncode == 2 and "--prune" in pruning.stderr

        # The operator may narrow to a tenant (nothing here is Acme's); any other caller's
        # tenant header is ignored: a key's tenant is its own.
        narrowed = docent(
            "ask", "--json", "--tenant", "acme", "Where do employees park?", env=offline_env
        )
        assert narrowed.returncode == 0 and json.loads(narrowed.stdout)["citations"] == []
        other = httpx.post(
            f"http://127.0.0.1:{port}/v1/search",
            json={"question": "Where do employees park?"},
            headers={"X-Docent-Operator-Tenant": "acme"},
            timeout=60,
        )
        assert other.json()["passages"][0]["source"] == "first/parking.md"
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    assert not record.exists()  # a stopped server takes its record with it
    # The store is free again: the CLI opens it itself.
    ask = docent("ask", "--json", "When does the canteen serve lunch?", env=offline_env)
    assert ask.returncode == 0, ask.stderr
    assert json.loads(ask.stdout)["citations"][0]["source"] == "second/canteen.md"


def test_a_killed_server_s_record_is_ignored(tmp_path):
    from pipelines.local_server import running_server, write_record

    record = write_record(tmp_path, "0.0.0.0", 8123)
    assert running_server(tmp_path) == record and record.url == "http://127.0.0.1:8123"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = json.loads((tmp_path / "serve.json").read_text()) | {"pid": int(dead.stdout)}
    (tmp_path / "serve.json").write_text(json.dumps(stale))
    assert running_server(tmp_path) is None


# Libraries that hold or run models: none may load before a check that refuses the command.
MODEL_LIBRARIES = ("torch._C", "sentence_transformers", "onnxruntime", "llama_cpp")


def _loaded(stderr: str) -> str:
    return stderr.rsplit("loaded:", 1)[1]


def test_eval_refuses_a_gate_its_set_cannot_score_before_any_question(tmp_path, offline_env):
    golden = tmp_path / "golden.jsonl"
    golden.write_text(
        '{"question": "How long is the warranty?", "reference": "27 months"}\n'
        '{"question": "Where do orders ship from?", "reference": "Rotterdam"}\n'
    )
    report = tmp_path / "run.json"
    args = ["eval", str(golden), "--threshold", "retrieval_hit=0.9", "-o", str(report)]
    result = _docent_reporting_imports(*args, env=offline_env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "golden.jsonl (jsonl) cannot score retrieval_hit" in result.stderr
    assert 'no item has "reference_ids"' in result.stderr
    assert "Remove the other gates" in result.stderr
    assert not report.exists()  # no question ran, no report was written
    assert not any(library in _loaded(result.stderr) for library in MODEL_LIBRARIES)
    assert "ragas" not in _loaded(result.stderr)  # not even the scoring library


def test_batch_classify_without_intents_says_which_key_to_add_before_loading(tmp_path, offline_env):
    tickets = tmp_path / "tickets"
    tickets.mkdir()
    (tickets / "one.md").write_text("I was charged twice this month.\n")
    out = tmp_path / "intents.csv"
    result = _docent_reporting_imports(
        "batch", "classify", "--quiet", str(tickets), "-o", str(out), env=offline_env
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "intents.examples_file" in result.stderr and "configs/support.yaml" in result.stderr
    assert not out.exists()
    assert not any(library in _loaded(result.stderr) for library in MODEL_LIBRARIES)


def test_batch_ask_on_an_empty_store_fails_at_once(tmp_path, offline_env):
    questions = tmp_path / "questions.jsonl"
    questions.write_text('{"id": "q1", "question": "Anything?"}\n')
    out = tmp_path / "answers.jsonl"
    result = _docent_reporting_imports(
        "batch", "ask", "--quiet", str(questions), "-o", str(out), env=offline_env
    )
    assert result.returncode == 1 and "ingest documents first" in result.stderr
    assert not out.exists() and not Path(f"{out}.failures.jsonl").exists()
    assert not any(library in _loaded(result.stderr) for library in MODEL_LIBRARIES)
