"""The parser pool: time limits, crashed workers and parser bugs cost one file, not the run."""

import os

from ingest.parse_pool import ParsePool
from tests.ingest.parsers import MisbehavingParser


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
