"""OpenTelemetry: `docent ask` exports a span per request and per stage to an OTLP/HTTP
collector (a real HTTP server on loopback that decodes what it receives)."""

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.cli import docent

FAQ = "# Shipping\n\nOrders ship from the Rotterdam warehouse within two working days.\n"


@pytest.fixture()
def collector():
    """An OTLP/HTTP trace endpoint on loopback; yields its URL and the spans received."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    spans = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self):
            request = ExportTraceServiceRequest()
            request.ParseFromString(self.rfile.read(int(self.headers["content-length"])))
            for resource in request.resource_spans:
                service = {a.key: a.value.string_value for a in resource.resource.attributes}
                for scope in resource.scope_spans:
                    spans.extend((service["service.name"], span) for span in scope.spans)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", spans
    server.shutdown()


def test_a_question_is_traced_by_stage(tmp_path, collector):
    url, spans = collector
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "shipping.md").write_text(FAQ)
    config = tmp_path / "traced.yaml"
    config.write_text(f"tracing:\n  exporter: otlp\n  endpoint: {url}\n  service_name: kb\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCENT_")}
    env.update(DOCENT_DATA_DIR=str(tmp_path / "data"), DOCENT_CONFIG=str(config))
    assert docent("ingest", "--quiet", str(tmp_path / "docs"), env=env).returncode == 0
    spans.clear()
    asked = docent("ask", "--json", "Which warehouse do orders ship from?", env=env)
    assert asked.returncode == 0, asked.stderr
    by_name = {span.name: span for _, span in spans}
    assert {service for service, _ in spans} == {"kb"}
    request = by_name["docent.ask"]
    attributes = {a.key: a.value for a in request.attributes}
    assert attributes["docent.decision"].string_value == "pass"
    assert len(attributes["docent.trace_id"].string_value) == 32
    for stage in ("docent.classify", "docent.generate", "docent.verify", "haystack.embed_dense"):
        assert stage in by_name, sorted(by_name)
    children = [s for _, s in spans if s.parent_span_id == request.span_id]
    assert {"docent.classify", "docent.generate"} <= {s.name for s in children}
    assert all(s.trace_id == request.trace_id for _, s in spans if s.name.startswith("docent."))
