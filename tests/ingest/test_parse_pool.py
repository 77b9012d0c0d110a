"""The parser pool: time limits, crashed workers and parser bugs cost one file, not the run."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.parse_pool import ParsePool
from tests.ingest.parsers import MisbehavingParser

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # waits out a 3 s time limit
def test_hanging_crashing_and_buggy_files_are_reported_and_the_rest_parsed(tmp_path):
    names = ["a.md", "hang.md", "b.md", "crash.md", "c.md", "bug.md", "d.md", "e.md"]
    with ParsePool(MisbehavingParser(), workers=2, timeout=3) as pool:
        results = {os.path.basename(r.source): r for r in pool.parse(tmp_path / n for n in names)}
        assert set(results) == set(names)
        assert "longer than 3 s" in results["hang.md"].reason
        assert "parsing.file_timeout" in results["hang.md"].reason
        assert (
            "crashed" in results["crash.md"].reason and "exit code 11" in results["crash.md"].reason
        )
        assert "KeyError" in results["bug.md"].reason
        for name in ("a.md", "b.md", "c.md", "d.md", "e.md"):
            assert results[name].reason == "" and results[name].converter.startswith("pid ")
        # Killed workers were replaced: the pool still works, with the same number of workers.
        again = list(pool.parse([tmp_path / "f.md", tmp_path / "g.md"]))
        assert [r.reason for r in again] == ["", ""]
        assert len(pool._pool) == 2 and all(w.process.is_alive() for w in pool._pool)
    assert pool._pool == []


def test_parsing_runs_in_other_processes_in_parallel(tmp_path):
    with ParsePool(MisbehavingParser(), workers=2, timeout=30) as pool:
        results = list(pool.parse(tmp_path / f"{n}.md" for n in range(8)))
    pids = {r.converter for r in results}
    assert len(results) == 8 and len(pids) == 2 and f"pid {os.getpid()}" not in pids


def test_a_script_without_a_main_guard_can_use_the_pool(tmp_path):
    # multiprocessing re-imports the main module in new processes; an unguarded script
    # would start a pool inside every worker. docent hides the script from its workers.
    script = tmp_path / "ingest_now.py"
    script.write_text(
        "from pathlib import Path\n"
        "from ingest.parse_pool import ParsePool\n"
        "from tests.ingest.parsers import MisbehavingParser\n"
        "with ParsePool(MisbehavingParser(), workers=1, timeout=30) as pool:\n"
        "    print(len(list(pool.parse([Path('a.md'), Path('b.md')]))), 'parsed')\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2 parsed"


def test_a_file_that_needs_more_memory_than_a_worker_may_have_fails_alone(tmp_path):
    names = ["a.md", "hog.md", "b.md"]
    with ParsePool(MisbehavingParser(), workers=1, timeout=30, memory_mb=2048) as pool:
        results = {os.path.basename(r.source): r for r in pool.parse(tmp_path / n for n in names)}
    assert "more than 2048 MB" in results["hog.md"].reason
    assert "parsing.max_worker_mb" in results["hog.md"].reason
    assert results["a.md"].reason == results["b.md"].reason == ""


def test_closing_an_abandoned_run_kills_a_busy_worker_at_once(tmp_path):
    """An interrupted ingest closes the pool while a worker parses: no waiting for it."""
    pool = ParsePool(MisbehavingParser(), workers=2, timeout=3600)
    results = pool.parse(tmp_path / n for n in ["a.md", "hang.md", "b.md", "c.md"])
    assert next(results).reason == ""
    workers = [w.process for w in pool._pool]
    started = time.monotonic()
    pool.close()  # the consumer stopped reading; `results` is not even closed
    assert time.monotonic() - started < 2
    assert pool._pool == [] and not any(p.is_alive() for p in workers)
