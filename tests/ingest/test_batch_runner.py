"""BatchRunner: records written once each, resumption, torn last lines, failures retried."""

import _thread
import csv
import json
import threading
import time

import pytest

from components import interruption
from components.errors import ConfigError, DocentError
from ingest.batch_runner import GRACE, BatchInterrupted, BatchRunner

ITEMS = [(f"item-{n}", n) for n in range(6)]


def _square(n: int) -> dict:
    if n == 4:
        raise DocentError("four is unlucky")
    return {"square": n * n, "detail": {"n": n}}


def test_jsonl_results_failures_and_a_resumed_run(tmp_path):
    out = tmp_path / "out.jsonl"
    runner = BatchRunner(out, fields=["id", "square", "detail"])
    seen = []
    report = runner.run(ITEMS, _square, on_item=lambda i, status, total: seen.append(status))
    assert (report.done, report.already_done) == (5, 0)
    assert report.failed == [{"id": "item-4", "reason": "four is unlucky"}]
    assert sorted(seen) == ["done"] * 5 + ["failed"]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["id"] for r in records) == [f"item-{n}" for n in (0, 1, 2, 3, 5)]
    assert {r["id"]: r["detail"] for r in records}["item-3"] == {"n": 3}
    failures = runner.failures_path.read_text().splitlines()
    assert [json.loads(line)["id"] for line in failures] == ["item-4"]

    # A crash left half a line behind; the next run drops it, redoes that item and retries
    # the failed one, and nothing else.
    with out.open("a") as f:
        f.write('{"id": "item-9", "squ')
    calls = []
    report = runner.run(ITEMS + [("item-9", 9)], lambda n: calls.append(n) or {"square": n * n})
    assert sorted(calls) == [4, 9]
    assert (report.done, report.already_done, report.failed) == (2, 5, [])
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == sorted(f"item-{n}" for n in (0, 1, 2, 3, 4, 5, 9))
    assert not runner.failures_path.exists()


def test_csv_output_has_one_header_and_json_cells(tmp_path):
    out = tmp_path / "out.csv"
    BatchRunner(out, fields=["id", "square", "detail"]).run(ITEMS[:2], _square)
    BatchRunner(out, fields=["id", "square", "detail"]).run(ITEMS[:3], _square)
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["id", "square", "detail"]
    assert [r[0] for r in rows[1:]] == ["item-0", "item-1", "item-2"]
    assert json.loads(rows[2][2]) == {"n": 1}
    with pytest.raises(ConfigError, match="columns"):
        BatchRunner(out, fields=["id", "other"]).run(ITEMS, _square)


def test_parallel_workers_record_every_item_once(tmp_path):
    out = tmp_path / "out.jsonl"
    items = [(str(n), n) for n in range(40)]
    report = BatchRunner(out, fields=["id", "square"], workers=4).run(
        items, lambda n: {"square": n * n}
    )
    assert report.done == 40
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert sorted(ids, key=int) == [str(n) for n in range(40)]


def test_duplicate_ids_and_foreign_files_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="occurs twice"):
        BatchRunner(tmp_path / "a.jsonl", fields=["id"]).run([("x", 1), ("x", 2)], _square)
    foreign = tmp_path / "notes.jsonl"
    foreign.write_text("hello\n")
    with pytest.raises(ConfigError, match="line 1"):
        BatchRunner(foreign, fields=["id"]).run(ITEMS, _square)
    assert foreign.read_text() == "hello\n"


def test_an_interrupted_run_keeps_whole_records_and_does_not_wait_for_a_stuck_item(tmp_path):
    """Ctrl-C (a KeyboardInterrupt in the main thread): queued items are cancelled, an item
    stuck in a network call is not waited for, and the next run does the rest."""
    out = tmp_path / "out.jsonl"
    release = threading.Event()

    def task(n: int) -> dict:
        if n == 3:
            release.wait(60)  # a request that does not return
        time.sleep(0.05)
        return {"square": n * n}

    items = [(f"item-{n}", n) for n in range(40)]
    threading.Timer(0.5, _thread.interrupt_main).start()
    started = time.monotonic()
    try:
        with pytest.raises(BatchInterrupted) as raised:
            BatchRunner(out, fields=["id", "square"], workers=2).run(items, task)
        assert time.monotonic() - started < 0.5 + GRACE + 1
    finally:
        release.set()
    report = raised.value.report
    assert (report.total, report.already_done) == (40, 0) and 0 < report.done < 39
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(ids) == report.done and "item-3" not in ids

    calls = []
    report = BatchRunner(out, fields=["id", "square"]).run(
        items, lambda n: calls.append(n) or {"square": n * n}
    )
    assert report.done == len(calls) == 40 - len(ids) and 3 in calls
    assert sorted(json.loads(line)["id"] for line in out.read_text().splitlines()) == sorted(
        i for i, _ in items
    )


def test_a_stop_request_ends_a_run_between_items(tmp_path):
    """A stop requested through `components.interruption` (not a signal) ends it too."""
    out = tmp_path / "out.jsonl"

    def task(n: int) -> dict:
        if n == 2:
            interruption.request_stop()
        return {"square": n * n}

    try:
        with pytest.raises(BatchInterrupted) as raised:
            BatchRunner(out, fields=["id", "square"]).run(ITEMS, task)
    finally:
        interruption.clear_stop()
    assert raised.value.report.done == 3
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [
        "item-0",
        "item-1",
        "item-2",
    ]
