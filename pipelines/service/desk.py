"""A work queue for the service that takes turns between callers: bounded in all and per caller.

The service runs three kinds of work apart, each on a desk of its own: answers (the model),
retrieval-only searches, and ingest jobs. A desk runs its calls on a few worker threads.
Waiting calls are kept per caller (an API key) and served in turns, one call of each caller
in rotation, so a caller who queues twenty requests delays another caller's one request by
at most one call, not twenty. At most `max_waiting` calls wait in all and `per_caller` of
them for one caller; one more is refused (`Busy`), and the HTTP layer answers 429.
"""

import os
import sys
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from haystack import logging

logger = logging.getLogger(__name__)


class Busy(Exception):
    """A desk refused a call: `reason` is "queue_full" or "caller_share"."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class FairDesk:
    """Run calls on `workers` threads, taking turns between callers.

    Usage:
    ```python
    desk = FairDesk("model", workers=1, max_waiting=8, per_caller=4)
    future = desk.submit("key-1", lambda: pipeline.ask(question))   # Busy when full
    answer = future.result(timeout=120)   # future.cancel() drops it unrun while it waits
    desk.close()
    ```
    """

    def __init__(
        self,
        name: str,
        *,
        workers: int,
        max_waiting: int,
        per_caller: int,
        nice: int = 0,
        on_change: Callable[[str, int], None] | None = None,
    ) -> None:
        """A desk with idle workers and no waiting calls.

        :param name: the desk's name, in thread names, refusals and metrics.
        :param workers: calls run at once.
        :param max_waiting: calls that may wait beyond those running.
        :param per_caller: calls of one caller that may wait.
        :param nice: the workers' scheduling priority, as `nice` counts it (higher yields
            the CPU to the rest); threads and processes they start inherit it (Linux only).
        :param on_change: called with the desk's name and the number of calls it holds
            (running and waiting) whenever that changes, for a metrics gauge.
        """
        if workers < 1:
            raise ValueError(f"workers must be at least 1 (got {workers})")
        if max_waiting < 0 or per_caller < 1:
            raise ValueError(
                f"max_waiting must be 0 or more and per_caller 1 or more "
                f"(got {max_waiting} and {per_caller})"
            )
        self.name = name
        self.workers = workers
        self.max_waiting = max_waiting
        self.per_caller = per_caller
        self.nice = nice
        self.on_change = on_change
        self._waiting: OrderedDict[str, deque[tuple[Future, Callable[[], Any]]]] = OrderedDict()
        self._running = 0
        self._closed = False
        self._cond = threading.Condition()
        self._threads = [
            threading.Thread(target=self._serve, name=f"docent-{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, caller: str, work: Callable[[], Any], bounded: bool = True) -> Future:
        """Queue `work` for `caller`; its future holds the result or the exception.

        :param bounded: False queues it whatever the bounds (work resumed at start-up).

        Raises:
            Busy: `max_waiting` calls already wait, or `per_caller` of this caller's.
        """
        future: Future = Future()
        with self._cond:
            refusal = self._refusal(caller) if bounded else None
            if refusal is not None or self._closed:
                raise refusal or Busy("closed", f"the {self.name} desk is shutting down")
            self._waiting.setdefault(caller, deque()).append((future, work))
            self._changed()
            self._cond.notify()
        return future

    def refusal(self, caller: str) -> Busy | None:
        """Why a call of `caller` would be refused now, or None: a look that changes nothing,
        so that a request can be refused before its body is read."""
        with self._cond:
            return self._refusal(caller)

    def _refusal(self, caller: str) -> Busy | None:
        # Calls queued for idle workers that have not yet taken them do not wait.
        idle = self.workers - self._running
        waiting = sum(len(q) for q in self._waiting.values())
        if waiting < idle:
            return None
        waiting -= idle
        if waiting >= self.max_waiting:
            return Busy(
                "queue_full",
                f"{waiting} requests are already waiting for the {self.name}; retry later",
            )
        mine = len(self._waiting.get(caller, ()))
        if mine >= self.per_caller:
            return Busy(
                "caller_share",
                f"this API key already has {mine} requests waiting for the {self.name} "
                f"(service.max_waiting_per_key is {self.per_caller}); retry later",
            )
        return None

    def holding(self) -> int:
        """Calls running and waiting."""
        with self._cond:
            return self._running + sum(len(q) for q in self._waiting.values())

    def close(self) -> None:
        """Cancel the waiting calls and wait for the running ones."""
        with self._cond:
            self._closed = True
            for queue in self._waiting.values():
                for future, _ in queue:
                    future.cancel()
            self._waiting.clear()
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()

    def _next(self) -> tuple[Future, Callable[[], Any]] | None:
        """The next call in turn (the caller served longest ago first), or None when closed."""
        with self._cond:
            while not self._waiting and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            caller, queue = next(iter(self._waiting.items()))
            item = queue.popleft()
            # The caller goes to the back of the rotation, or leaves it when it has no more.
            del self._waiting[caller]
            if queue:
                self._waiting[caller] = queue
            self._running += 1
            return item

    def _serve(self) -> None:
        if self.nice and sys.platform == "linux":
            # On Linux a thread has a priority of its own, given to what it starts.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
        while (item := self._next()) is not None:
            future, work = item
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(work())
                    except BaseException as e:  # noqa: BLE001  (handed to the waiting request)
                        future.set_exception(e)
            finally:
                with self._cond:
                    self._running -= 1
                    self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.name, self._running + sum(len(q) for q in self._waiting.values()))
