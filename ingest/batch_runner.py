"""Run a task over many items, writing one record per item, resumable after an interruption.

The output file (JSON Lines or CSV) is the journal: each finished item is appended and
flushed to disk before the next is reported, so a run that is killed loses at most the items
in flight. Running again reads the ids already in the output, drops a line that was cut off
mid-write, and does only the rest. Items that fail are listed in `<output>.failures.jsonl`
with the reason and are tried again by the next run.

A KeyboardInterrupt (Ctrl-C), or a stop requested through `components.interruption`, ends a
run within about a second: items not started are cancelled, items in flight get `GRACE`
seconds to finish (a llama.cpp generation stops at its next token), and the run raises
`BatchInterrupted` with what it wrote. The output holds only whole records, as after a crash.
"""

import csv
import io
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components import interruption
from components.errors import ConfigError, DocentError

# Seconds that items in flight may take to finish once a run is interrupted.
GRACE = 0.8


@dataclass
class BatchReport:
    """The summary of one batch run."""

    done: int = 0
    already_done: int = 0
    total: int = 0  # items given, done before or not
    failed: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "done": self.done,
            "already_done": self.already_done,
            "total": self.total,
            "failed": len(self.failed),
            "seconds": round(self.seconds, 2),
            "failures": self.failed,
        }


class BatchInterrupted(interruption.Interrupted):
    """A batch run stopped early; `report` counts what is in the output."""

    def __init__(self, report: BatchReport) -> None:
        super().__init__(f"{report.already_done + report.done} of {report.total} items done")
        self.report = report


class BatchRunner:
    """Applies a task to items and records each result once.

    Usage:
    ```python
    runner = BatchRunner(Path("answers.jsonl"), fields=["id", "answer"])
    report = runner.run([("q1", "What is ...?")], lambda text: {"answer": ask(text)})
    ```
    """

    def __init__(self, output: Path, *, fields: list[str], workers: int = 1) -> None:
        """Write to `output`: CSV when it ends in .csv (columns `fields`), else JSON Lines.

        :param fields: the record's keys, "id" first; CSV cells that are not scalars hold JSON.
        :param workers: items run at once, in threads (for models behind an endpoint).
        """
        if workers < 1:
            raise ValueError(f"workers must be at least 1 (got {workers})")
        self.output = Path(output)
        self.fields = fields
        self.workers = workers
        self.csv = self.output.suffix.lower() == ".csv"
        self.failures_path = self.output.with_name(self.output.name + ".failures.jsonl")
        self._lock = threading.Lock()

    def run(
        self,
        items: Iterable[tuple[str, Any]],
        task: Callable[[Any], dict[str, Any]],
        on_item: Callable[[str, str, int], None] | None = None,
    ) -> BatchReport:
        """Run `task` on each `(id, item)` not already in the output.

        :param on_item: called after each item with its id, "done" or "failed", and the number
            of items to do in this run, for progress displays.
        """
        started = time.perf_counter()
        report = BatchReport()
        items = list(items)
        ids = [item_id for item_id, _ in items]
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise ConfigError(f"the item id {duplicate!r} occurs twice; ids must be unique")
        finished = self._finished_ids()
        todo = [(item_id, item) for item_id, item in items if item_id not in finished]
        report.total = len(items)
        report.already_done = len(items) - len(todo)

        def one(item_id: str, item: Any) -> tuple[str, dict | None, str]:
            interruption.raise_if_stopped()
            try:
                return item_id, task(item), ""
            except DocentError as e:
                return item_id, None, str(e)

        def record(future: Future) -> None:
            item_id, result, reason = future.result()
            if result is None:
                report.failed.append({"id": item_id, "reason": reason})
            else:
                self._append(out, {"id": item_id, **result})
                report.done += 1
            if on_item:
                on_item(item_id, "failed" if result is None else "done", len(todo))

        with self.output.open("a", encoding="utf-8", newline="") as out:
            if self.csv and out.tell() == 0:
                self._append(out, dict(zip(self.fields, self.fields, strict=True)))
            pool = ThreadPoolExecutor(max_workers=self.workers)
            submitted = [pool.submit(one, item_id, item) for item_id, item in todo]
            order = {future: n for n, future in enumerate(submitted)}
            unrecorded = set(submitted)
            try:
                while unrecorded:
                    ready, _ = wait(unrecorded, return_when=FIRST_COMPLETED)
                    for future in sorted(ready, key=order.__getitem__):
                        unrecorded.discard(future)
                        record(future)
            except KeyboardInterrupt as e:
                pool.shutdown(wait=False, cancel_futures=True)
                # Items that finish within the grace period are kept; a thread still busy
                # after it (in a network call, say) is not waited for.
                running = [f for f in unrecorded if not f.cancelled()]
                for future in sorted(wait(running, timeout=GRACE).done, key=order.__getitem__):
                    if future.exception() is None:
                        record(future)
                report.seconds = time.perf_counter() - started
                raise BatchInterrupted(report) from e
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
        self._write_failures(report.failed)
        report.seconds = time.perf_counter() - started
        return report

    def _append(self, out: io.TextIOBase, record: dict[str, Any]) -> None:
        if self.csv:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerow(
                [_cell(record.get(name)) for name in self.fields]
            )
            line = buffer.getvalue()
        else:
            line = json.dumps({k: record.get(k) for k in self.fields}, ensure_ascii=False) + "\n"
        with self._lock:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())

    def _finished_ids(self) -> set[str]:
        """The ids in the output; a last line cut off by a crash is removed first."""
        if not self.output.exists():
            return set()
        data = self.output.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            with self.output.open("r+b") as f:
                f.truncate(len(complete))
        text = complete.decode("utf-8")
        if self.csv:
            rows = list(csv.reader(io.StringIO(text)))
            if rows and rows[0] != self.fields:
                raise ConfigError(
                    f"{self.output} has the columns {rows[0]}, not {self.fields}; write to a "
                    "new file, or delete it to start over"
                )
            return {row[0] for row in rows[1:] if row}
        ids = set()
        for number, line in enumerate(text.splitlines(), start=1):
            try:
                ids.add(str(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError) as e:
                raise ConfigError(
                    f"{self.output} line {number} is not a record of an earlier run; write to a "
                    "new file, or delete it to start over"
                ) from e
        return ids

    def _write_failures(self, failures: list[dict[str, str]]) -> None:
        if not failures:
            self.failures_path.unlink(missing_ok=True)
            return
        self.failures_path.write_text(
            "".join(json.dumps(f, ensure_ascii=False) + "\n" for f in failures), encoding="utf-8"
        )


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, ensure_ascii=False)
