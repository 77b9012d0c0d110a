"""Seconds spent in each pipeline component, collected through Haystack's tracing hook."""

import contextlib
import contextvars
import time
from collections.abc import Iterator
from typing import Any

from haystack import tracing
from haystack.tracing import Span, Tracer

_CURRENT: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
    "docent_stage_timings", default=None
)


class _TimingSpan(Span):
    def __init__(self) -> None:
        self.tags: dict[str, Any] = {}

    def set_tag(self, key: str, value: Any) -> None:
        self.tags[key] = value


class StageTimer(Tracer):
    """A tracer that adds the wall time of each component run to the active `collect()` dict.

    Haystack has one global tracer; `install()` makes this it, unless another tracer (say,
    OpenTelemetry) is already configured, in which case timings are not collected.
    """

    @contextlib.contextmanager
    def trace(
        self,
        operation_name: str,
        tags: dict[str, Any] | None = None,
        parent_span: Span | None = None,
    ) -> Iterator[Span]:
        """Time the block; component runs are recorded under the component's name."""
        span = _TimingSpan()
        span.tags.update(tags or {})
        started = time.perf_counter()
        try:
            yield span
        finally:
            timings = _CURRENT.get()
            name = span.tags.get("haystack.component.name")
            if timings is not None and operation_name == "haystack.component.run" and name:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - started

    def current_span(self) -> Span | None:
        """No span is exposed for log correlation."""
        return None


def install() -> None:
    """Make `StageTimer` Haystack's tracer, unless tracing is already enabled."""
    if not tracing.is_tracing_enabled():
        tracing.enable_tracing(StageTimer())


@contextlib.contextmanager
def collect() -> Iterator[dict[str, float]]:
    """Collect component timings of the pipelines run inside the block, in seconds."""
    install()
    timings: dict[str, float] = {}
    token = _CURRENT.set(timings)
    try:
        yield timings
    finally:
        _CURRENT.reset(token)


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Add the wall time of the block to the active `collect()` dict under `name`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings = _CURRENT.get()
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - started
