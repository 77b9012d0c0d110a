"""A circuit breaker per model: stop calling a model that keeps failing, then probe it again."""

import threading
import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Open after `failure_threshold` failures in a row, stay open `cooldown_seconds`, then
    let one probe through.

    While closed every call is allowed. Once open, calls are refused until the cool-down has
    passed; then the breaker is half open and allows a single probe: its success closes the
    breaker, its failure opens it for another cool-down. Thread-safe: calls on many threads
    are counted one by one, and the failures of calls let through before it opened (ending
    while it is open, or while the probe is in flight) are counted without opening it again,
    pushing the probe back or letting a second probe through. The probe belongs to the thread
    that `allow` let through, which records its outcome.

    Usage:
    ```python
    breaker = CircuitBreaker(failure_threshold=3, cooldown_seconds=30)
    if breaker.allow():
        try:
            call()
            breaker.record_success()
        except ModelCallError:
            breaker.record_failure()
        finally:
            breaker.release()   # a probe left without an outcome lets the next one through
    ```
    """

    def __init__(
        self,
        *,
        failure_threshold: int = 3,
        cooldown_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create a closed breaker.

        :param failure_threshold: failures in a row that open the breaker.
        :param cooldown_seconds: how long an open breaker refuses calls before a probe.
        :param clock: the time source, in seconds.
        """
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be at least 1 (got {failure_threshold})")
        if cooldown_seconds < 0:
            raise ValueError(f"cooldown_seconds must not be negative (got {cooldown_seconds})")
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self.clock = clock
        self._failures = 0
        self._openings = 0
        self._opened_at: float | None = None
        self._probe: int | None = None  # the thread whose call is the probe
        self._lock = threading.Lock()

    @property
    def state(self) -> State:
        """ "closed", "open" (refusing calls) or "half_open" (a probe may go through)."""
        with self._lock:
            return self._state()

    @property
    def failures(self) -> int:
        """Failures counted since the last success."""
        with self._lock:
            return self._failures

    @property
    def openings(self) -> int:
        """How many times the breaker has opened (reopenings after a failed probe included)."""
        with self._lock:
            return self._openings

    def allow(self) -> bool:
        """Whether a call may go ahead now; in the half-open state only the first caller may."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half_open" and self._probe is None:
                self._probe = threading.get_ident()
                return True
            return False

    def seconds_until_probe(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when not open)."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self._opened_at + self.cooldown_seconds - self.clock())

    def record_success(self) -> None:
        """A call succeeded: close the breaker."""
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._probe = None

    def record_failure(self) -> None:
        """A call failed: count it, and open the breaker at the threshold or after a probe."""
        with self._lock:
            self._failures += 1
            probe = self._probe is not None and self._probe == threading.get_ident()
            if probe or (self._opened_at is None and self._failures >= self.failure_threshold):
                self._opened_at = self.clock()
                self._openings += 1
            if probe:
                self._probe = None

    def release(self) -> None:
        """End a call whose outcome was not recorded (it was interrupted): a probe in flight
        no longer blocks the next one. Harmless after `record_success` or `record_failure`, and
        on a thread that is not the probe's."""
        with self._lock:
            if self._probe == threading.get_ident():
                self._probe = None

    def _state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self.clock() - self._opened_at >= self.cooldown_seconds:
            return "half_open"
        return "open"
