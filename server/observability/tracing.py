"""Traces, off by default: OpenTelemetry spans for each RPC, each HTTP route
and each database query, when the standard OTEL_* variables ask for them.

On when `OTEL_TRACES_EXPORTER` is set to something other than `none`, or an
OTLP endpoint is (`OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); the exporter is OTLP over HTTP, or
`console` for a look at them. Every other OTEL_* variable (service name,
headers, sampler) is read by the SDK itself. The SDK and its instrumentations
are the optional extra `tracing` (pip install '.[tracing]'): a server without
them says so once and runs untraced.
"""

from __future__ import annotations

import logging
import os
from typing import Any

log = logging.getLogger(__name__)

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def tracing_requested() -> bool:
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "")
    if exporter == "none":
        return False
    return bool(exporter) or any(os.environ.get(name) for name in _ENDPOINTS)


def start_tracing() -> bool:
    """Installs the process's tracer provider and the database instrumentation;
    True when traces are on (then use `grpc_interceptors` and `asgi_middleware`)."""
    if not tracing_requested():
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SimpleSpanProcessor,
        )
    except ImportError:
        log.warning("OTEL_* asks for traces, but the tracing extra is not installed: "
                    "pip install '.[tracing]'; running untraced")
        return False
    service = os.environ.get("OTEL_SERVICE_NAME", "channel-events")
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if os.environ.get("OTEL_TRACES_EXPORTER") == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor().instrument()
    log.info("tracing on: spans for RPCs, HTTP routes and database queries")
    return True


def grpc_interceptors() -> list[Any]:
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor()]


def asgi_middleware(app: Any) -> Any:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(app)
