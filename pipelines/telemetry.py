"""OpenTelemetry tracing of requests, when an exporter is configured (`tracing` in YAML)."""

from pipelines.config import TracingSettings

_configured: list[TracingSettings] = []


def configure(settings: TracingSettings) -> bool:
    """Install a tracer provider that exports docent's spans as configured; once per process.

    With `exporter: otlp` spans go to an OTLP/HTTP collector at `endpoint` (Jaeger, Tempo,
    Honeycomb, the OpenTelemetry Collector); with `console` they are printed to stderr;
    with `none` (the default) nothing is installed and spans cost nothing.

    :returns: whether a provider was installed by this call.
    """
    if settings.exporter == "none" or _configured:
        return False
    import sys

    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    if settings.exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.endpoint, timeout=settings.timeout)
    else:
        exporter = ConsoleSpanExporter(out=sys.stderr)
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured.append(settings)
    return True
