"""Seconds spent in each pipeline stage and component, and the same as OpenTelemetry spans.

Stages (`stage("generate")`) and Haystack component runs are timed into the active
`collect()` dict and, when an OpenTelemetry tracer provider is configured (see
`pipelines.telemetry`), recorded as spans `docent.<stage>` and `haystack.<component>` under
the request's span. Without a provider the OpenTelemetry API does nothing.
"""

import contextlib
import contextvars
import time
from collections.abc import Iterator
from typing import Any

from haystack import tracing
from haystack.tracing import Span, Tracer
from opentelemetry import trace as otel

_TRACER = otel.get_tracer("docent")

_CURRENT: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
    "docent_stage_timings", default=None
)


class _TimingSpan(Span):
    def __init__(self, otel_span: Any) -> None:
        self.tags: dict[str, Any] = {}
        self.otel_span = otel_span

    def set_tag(self, key: str, value: Any) -> None:
        self.tags[key] = value
        if isinstance(value, str | int | float | bool):
            self.otel_span.set_attribute(key, value)


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
        tags = tags or {}
        name = tags.get("haystack.component.name")
        span_name = f"haystack.{name}" if name else operation_name
        with _TRACER.start_as_current_span(span_name) as otel_span:
            span = _TimingSpan(otel_span)
            for key, value in tags.items():
                span.set_tag(key, value)
            started = time.perf_counter()
            try:
                yield span
            finally:
                self._record(operation_name, span, started)

    @staticmethod
    def _record(operation_name: str, span: _TimingSpan, started: float) -> None:
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


def stage(name: str) -> Any:
    """Add the wall time of the block to the active `collect()` dict under `name` (and record
    it as the span `docent.<name>`); a context manager."""
    return _timed(name, f"docent.{name}")


def component(name: str) -> Any:
    """Time a component called directly as a pipeline run would: under `name` in the active
    `collect()` dict, and as the span `haystack.<name>`; a context manager."""
    return _timed(name, f"haystack.{name}")


@contextlib.contextmanager
def _timed(name: str, span: str) -> Iterator[None]:
    started = time.perf_counter()
    with _TRACER.start_as_current_span(span):
        try:
            yield
        finally:
            timings = _CURRENT.get()
            if timings is not None:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - started


def request_span(name: str, **attributes: Any) -> Any:
    """The span of one request (a context manager yielding it), parent of its stages."""
    return _TRACER.start_as_current_span(name, attributes=attributes)
