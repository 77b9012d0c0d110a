"""Parse files in worker processes, each file under a time limit and each worker under a
memory limit.

A file that hangs the parser, needs more memory than a worker may have, or crashes it (a
segfault in a native library), costs only its own worker: the worker is killed or found
dead, the file is reported with the reason, and a new worker takes its place. Workers fork
from a server process that has imported the parsers once, so starting or replacing one takes
a fraction of a second.
"""

import multiprocessing
import queue
import resource
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

from ingest.parsing import Parsed

# Imported once by the fork server, so that every worker starts with them loaded.
_PRELOAD = [
    "ingest.parsing",
    "unstructured.partition.auto",
    "unstructured.partition.pdf",
    "unstructured.partition.docx",
    "unstructured.partition.html",
    "unstructured.partition.md",
    "unstructured.partition.text",
]
# Files queued ahead per worker, so a worker never waits for the next file.
_QUEUED_PER_WORKER = 2
# Seconds between two looks at whether the consumer stopped listening (an interrupted run).
_POLL = 0.2
# Seconds that idle workers get to exit on `close`; a worker still parsing is killed.
_CLOSE_WAIT = 0.5


def _serve(conn: Connection, parse: Callable[[Path], Parsed], memory_mb: int | None) -> None:
    """A worker's loop: parse each path received, send back the result, until told to stop."""
    # Ctrl-C in a terminal reaches the whole process group; the pool's owner decides what
    # stops, and kills a worker whose file is no longer wanted.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_mb is not None:
        # The operating system refuses the worker more address space than this: a file that
        # would need more fails with MemoryError (or kills only this worker).
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        try:
            path = conn.recv()
        except EOFError:
            return
        if path is None:
            return
        try:
            result = parse(path)
        except MemoryError:
            result = Parsed(str(path), reason=_over_memory(memory_mb))
        # Documented fallback: a parser bug on one file is that file's failure, not the run's.
        except Exception as e:  # noqa: BLE001
            result = Parsed(str(path), reason=f"the parser failed ({type(e).__name__}: {e})")
        conn.send(result)


@dataclass(eq=False)
class _Worker:
    process: multiprocessing.Process
    conn: Connection
    assigned: deque = field(default_factory=deque)
    started: float = 0.0  # when the file at the head of `assigned` began


class ParsePool:
    """A pool of parser processes with a time limit per file.

    Usage:
    ```python
    with ParsePool(FileParser(...), workers=2, timeout=120) as pool:
        for parsed in pool.parse(paths):      # in the order they finish
            ...
    ```
    """

    def __init__(
        self,
        parse: Callable[[Path], Parsed],
        *,
        workers: int,
        timeout: float,
        memory_mb: int | None = None,
    ) -> None:
        """Keep the settings; workers start on the first `parse`.

        :param memory_mb: the address space a worker may use (None: no limit).
        """
        if workers < 1:
            raise ValueError(f"workers must be at least 1 (got {workers})")
        self.parse_file = parse
        self.workers = workers
        self.timeout = timeout
        self.memory_mb = memory_mb
        self._pool: list[_Worker] = []
        # The run in progress: its stop signal and dispatching thread.
        self._running: tuple[threading.Event, threading.Thread] | None = None
        self._context = multiprocessing.get_context("forkserver")

    def __enter__(self) -> "ParsePool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def parse(self, paths: Iterable[Path]) -> Iterator[Parsed]:
        """Parse `paths` in the workers and yield each result as it arrives.

        A file that takes longer than `timeout` seconds, or kills its worker, yields a `Parsed`
        with the reason. Results are buffered a little ahead of the consumer, so parsing goes
        on while the caller embeds and writes.
        """
        todo = deque(Path(p) for p in paths)
        total = len(todo)
        results: queue.Queue = queue.Queue(maxsize=4 * self.workers)
        stop = threading.Event()
        thread = threading.Thread(
            target=self._dispatch, args=(todo, results, stop), daemon=True, name="parse-pool"
        )
        thread.start()
        self._running = (stop, thread)
        try:
            for _ in range(total):
                item = results.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._stop_running()

    def _stop_running(self) -> None:
        """End the dispatching of a run that its consumer no longer reads."""
        if self._running is not None:
            stop, thread = self._running
            stop.set()
            thread.join()
            self._running = None

    def close(self) -> None:
        """Stop every worker: idle ones exit, one still parsing (a run that was abandoned or
        interrupted) is killed rather than waited for."""
        self._stop_running()
        for worker in self._pool:
            try:
                worker.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        deadline = time.monotonic() + _CLOSE_WAIT
        for worker in self._pool:
            worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
        self._pool = []

    def _dispatch(self, todo: deque, results: queue.Queue, stop: threading.Event) -> None:
        try:
            self._run(todo, results, stop)
        except BaseException as e:  # handed to the consumer, which raises it
            _put(results, stop, e)

    def _run(self, todo: deque, results: queue.Queue, stop: threading.Event) -> None:
        while len(self._pool) < self.workers:
            self._pool.append(self._start())
        try:
            self._loop(todo, results, stop)
        finally:
            # An abandoned run must not leave results behind for the next one.
            for worker in [w for w in self._pool if w.assigned]:
                worker.assigned.clear()
                self._replace(worker, deque())

    def _loop(self, todo: deque, results: queue.Queue, stop: threading.Event) -> None:
        while not stop.is_set() and (todo or any(w.assigned for w in self._pool)):
            for worker in self._pool:
                while todo and len(worker.assigned) < _QUEUED_PER_WORKER:
                    if not worker.assigned:
                        worker.started = time.monotonic()
                    path = todo.popleft()
                    worker.assigned.append(path)
                    worker.conn.send(path)
            busy = [w for w in self._pool if w.assigned]
            deadline = min(w.started for w in busy) + self.timeout
            ready = wait(
                [w.conn for w in busy], timeout=min(_POLL, max(0.0, deadline - time.monotonic()))
            )
            for worker in busy:
                if worker.conn in ready:
                    _put(results, stop, self._receive(worker, todo))
                elif time.monotonic() - worker.started >= self.timeout:
                    path = worker.assigned.popleft()
                    self._replace(worker, todo)
                    _put(
                        results,
                        stop,
                        Parsed(
                            str(path),
                            reason=f"parsing took longer than {self.timeout:g} s and was "
                            "stopped (parsing.file_timeout); the file may be damaged or very "
                            "large: split it, or raise the limit",
                        ),
                    )

    def _receive(self, worker: _Worker, todo: deque) -> Parsed:
        try:
            result = worker.conn.recv()
        except (EOFError, OSError):
            path = worker.assigned.popleft()
            worker.process.join(timeout=5)
            code = worker.process.exitcode
            self._replace(worker, todo)
            limit = "" if self.memory_mb is None else f", or needed more than {self.memory_mb} MB"
            return Parsed(
                str(path),
                reason=f"the parser crashed on this file (worker exit code {code}); the file "
                f"is probably damaged{limit}",
            )
        worker.assigned.popleft()
        worker.started = time.monotonic()
        return result

    def _replace(self, worker: _Worker, todo: deque) -> None:
        """Kill a worker, give its queued files back, and start a new one in its place."""
        worker.process.kill()
        worker.process.join()
        worker.conn.close()
        todo.extendleft(reversed(worker.assigned))
        worker.assigned.clear()
        fresh = self._start()
        self._pool = [fresh if w is worker else w for w in self._pool]

    def _start(self) -> _Worker:
        self._context.set_forkserver_preload(_PRELOAD)
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=_serve,
            args=(theirs, self.parse_file, self.memory_mb),
            daemon=True,
            name="docent-parse",
        )
        with _main_module_hidden():
            process.start()
        theirs.close()
        return _Worker(process, ours)


@contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start processes without re-running the caller's script in them.

    multiprocessing imports the main module in every new process, so a script that ingests
    at its top level, without an `if __name__ == "__main__":` guard, would ingest again in
    each worker and fail. Workers need only docent's modules: the main module's file and
    spec are hidden while a worker starts.
    """
    main = sys.modules["__main__"]
    saved = {
        name: main.__dict__[name] for name in ("__file__", "__spec__") if name in main.__dict__
    }
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.update(saved)
        if "__spec__" not in saved:
            del main.__spec__


def _over_memory(memory_mb: int | None) -> str:
    return (
        f"parsing this file needed more than {memory_mb} MB of memory (parsing.max_worker_mb); "
        "the file may be a decompression bomb, or split it, or raise the limit"
    )


def _put(results: queue.Queue, stop: threading.Event, item: Parsed | BaseException) -> None:
    """Hand a result to the consumer, unless it has stopped listening."""
    while not stop.is_set():
        try:
            results.put(item, timeout=0.2)
            return
        except queue.Full:
            continue
