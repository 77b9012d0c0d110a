"""OpenTelemetry: `docent ask` exports a span per request and per stage to an OTLP/HTTP
collector (a real HTTP server on loopback that decodes what it receives)."""

import os

import pytest

from tests.cli import docent
from tests.servers import post_recorder

FAQ = "# Shipping\n\nOrders ship from the Rotterdam warehouse within two working days.\n"


@pytest.fixture()
def collector():
    """An OTLP/HTTP trace endpoint on loopback; yields its URL and the spans it received, as
    (service name, span)."""
    with post_recorder("/v1/traces") as (url, bodies):
        yield url, bodies


def spans_of(bodies: list[bytes]) -> list:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    spans = []
    for body in bodies:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource.resource.attributes}
            for scope in resource.scope_spans:
                spans.extend((service["service.name"], span) for span in scope.spans)
    return spans


def test_a_question_is_traced_by_stage(tmp_path, collector):
    url, bodies = collector
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "shipping.md").write_text(FAQ)
    config = tmp_path / "traced.yaml"
    config.write_text(f"tracing:\n  exporter: otlp\n  endpoint: {url}\n  service_name: kb\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCENT_")}
    env.update(DOCENT_DATA_DIR=str(tmp_path / "data"), DOCENT_CONFIG=str(config))
    assert docent("ingest", "--quiet", str(tmp_path / "docs"), env=env).returncode == 0
    bodies.clear()
    asked = docent("ask", "--json", "Which warehouse do orders ship from?", env=env)
    assert asked.returncode == 0, asked.stderr
    spans = spans_of(bodies)
    by_name = {span.name: span for _, span in spans}
    assert {service for service, _ in spans} == {"kb"}
    request = by_name["docent.ask"]
    attributes = {a.key: a.value for a in request.attributes}
    assert attributes["docent.decision"].string_value == "pass"
    assert len(attributes["docent.trace_id"].string_value) == 32
    # The shipped model answers extractively: its span is anchored ("select", "cite"), not
    # verified.
    for stage in ("haystack.classify", "docent.select", "docent.generate", "haystack.embed_dense"):
        assert stage in by_name, sorted(by_name)
    # The query path is a Haystack pipeline run: its components' spans hold their stages.
    parents = {s.span_id: s for _, s in spans}

    def path(span):
        names = []
        while span.parent_span_id in parents:
            span = parents[span.parent_span_id]
            names.append(span.name)
        return names

    assert path(by_name["docent.generate"])[:2] == ["haystack.answer", "haystack.pipeline.run"]
    assert path(by_name["haystack.embed_dense"])[0] == "haystack.search"
    assert path(by_name["haystack.pipeline.run"]) == ["docent.ask"]
    assert path(by_name["haystack.classify"]) == ["haystack.pipeline.run", "docent.ask"]
    assert all(s.trace_id == request.trace_id for _, s in spans if s.name.startswith("docent."))
