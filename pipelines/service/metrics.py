"""Prometheus metrics of `docent serve`: requests, stage latencies, models, gates, cost."""

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Seconds: from a cached retrieval (milliseconds) to a slow generation (a minute).
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ServiceMetrics:
    """The service's metrics in a registry of their own (several apps may share a process).

    Usage:
    ```python
    metrics = ServiceMetrics()
    metrics.request("/v1/ask", 200, 0.8)
    metrics.answer(answer.to_dict())
    body, content_type = metrics.render()
    ```
    """

    def __init__(self) -> None:
        """Create the metrics, all at zero."""
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "docent_requests", "HTTP requests by path and status", ["path", "status"], registry=r
        )
        self.latency = Histogram(
            "docent_request_seconds",
            "HTTP request latency by path",
            ["path"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.stages = Histogram(
            "docent_stage_seconds",
            "Pipeline stage latency (classify, retrieve, pack, generate, verify, ...)",
            ["stage"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "docent_decisions",
            "Answers by gate decision and route",
            ["decision", "route"],
            registry=r,
        )
        self.model_calls = Counter(
            "docent_model_calls",
            "Model calls by model and outcome (ok, skipped, timeout, weak_answer, ...)",
            ["model", "outcome"],
            registry=r,
        )
        self.fallbacks = Counter(
            "docent_fallbacks", "Answers that needed more than their first model", registry=r
        )
        self.escalations = Counter(
            "docent_escalations",
            "Escalations to a stronger model, by cause (verification, retrieval)",
            ["cause"],
            registry=r,
        )
        self.tokens = Counter(
            "docent_tokens",
            "Tokens by model and kind (prompt, completion)",
            ["model", "kind"],
            registry=r,
        )
        self.cost = Counter(
            "docent_cost", "Spend by model, in the configured currency", ["model"], registry=r
        )
        self.waiting = Gauge(
            "docent_waiting_requests",
            "Requests running or waiting, by desk (model, search, ingest)",
            ["desk"],
            registry=r,
        )
        self.rejected = Counter(
            "docent_rejected",
            "Requests refused by back-pressure (429: queue_full, caller_share, model_busy) or "
            "timed out (504)",
            ["reason"],
            registry=r,
        )
        self.failures = Counter(
            "docent_failures",
            "Requests that failed inside docent (500, or a stream ended by an error), by where",
            ["where"],
            registry=r,
        )

    def request(self, path: str, status: int, seconds: float) -> None:
        """Count one HTTP request."""
        self.requests.labels(path, str(status)).inc()
        self.latency.labels(path).observe(seconds)

    def waiting_changed(self, desk: str, holding: int) -> None:
        """Set a desk's gauge of requests running and waiting."""
        self.waiting.labels(desk).set(holding)

    def answer(self, answer: dict[str, Any]) -> None:
        """Count what one answer did: its decision, stages, model calls, tokens and cost."""
        self.decisions.labels(answer["decision"], answer.get("route") or "").inc()
        for stage, seconds in (answer.get("timings") or {}).items():
            if stage != "total":
                self.stages.labels(stage).observe(seconds)
        calls = answer.get("models_tried") or []
        for call in calls:
            self.model_calls.labels(call["model"], call["outcome"]).inc()
            if call["outcome"] == "weak_answer":
                self.escalations.labels("verification").inc()
            if call["prompt_tokens"] or call["completion_tokens"]:
                self.tokens.labels(call["model"], "prompt").inc(call["prompt_tokens"])
                self.tokens.labels(call["model"], "completion").inc(call["completion_tokens"])
                self.cost.labels(call["model"]).inc(call["cost"])
        if any(c["outcome"] not in ("ok", "weak_answer") for c in calls) and any(
            c["outcome"] == "ok" for c in calls
        ):
            self.fallbacks.inc()
        if (answer.get("retrieval") or {}).get("verdict") == "escalate":
            self.escalations.labels("retrieval").inc()

    def render(self) -> tuple[bytes, str]:
        """The metrics in Prometheus' text format, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
