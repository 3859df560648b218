"""OpenTelemetry traces of the app port, exported over OTLP/HTTP (the ``[otel]`` extra).

A span per request, made by OpenTelemetry's ASGI instrumentation around the app port
(its Falcon instrumentation serves WSGI apps only), continuing the caller's trace when the
request carries a ``traceparent``. The runtime names the span after the route template
(``GET /v1/greetings/{name}``) once routing is done, sets ``http.route``, and makes the
span's trace id the request id of a request that names none, so log lines and traces join.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scaffold.runtime.config_schema import TracingConfig
from scaffold.runtime.exceptions import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

EXTRA_HINT = "pip install 'scaffold-chassis[otel]'"
EXPORT_TIMEOUT = 5.0
"""Seconds an export may take: a collector that is down costs a worker's exit no more."""


class Tracing:
    """The tracer provider of one service, and the ASGI middleware that makes its spans.

    Args:
        config: The ``tracing`` section.
        service_name: ``service.name`` when the section leaves it empty.
        version: ``service.version``, if known.

    Raises:
        ConfigError: The ``[otel]`` extra is not installed.
    """

    def __init__(self, config: TracingConfig, service_name: str, version: str | None) -> None:
        try:
            from opentelemetry import trace
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
        except ImportError as ex:
            msg = f"tracing: needs the [otel] extra, which is not installed: {EXTRA_HINT}"
            raise ConfigError([msg]) from ex
        attributes = {"service.name": config.service_name or service_name}
        if version:
            attributes["service.version"] = version
        self._trace = trace
        self.provider: TracerProvider = TracerProvider(
            resource=Resource.create(attributes),
            sampler=ParentBased(TraceIdRatioBased(config.sample_ratio)),
        )
        self.provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=config.endpoint, timeout=EXPORT_TIMEOUT))
        )

    def wrap(self, app: Any) -> Any:
        """``app`` behind OpenTelemetry's ASGI middleware: one server span per request."""
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        middleware = OpenTelemetryMiddleware(
            app,
            tracer_provider=self.provider,
            default_span_details=_method_only,
            exclude_spans=["receive", "send"],
        )

        async def traced(scope: dict[str, Any], receive: Any, send: Any) -> None:
            # ASGI lets a server give these as any iterable; the instrumentation indexes
            # them and reads the headers more than once (and the app reads them after).
            for key in ("server", "client"):
                value = scope.get(key)
                if value is not None and not isinstance(value, tuple | list):
                    scope[key] = tuple(value)
            headers = scope.get("headers")
            if headers is not None and not isinstance(headers, list):
                scope["headers"] = [tuple(header) for header in headers]
            await middleware(scope, receive, send)

        return traced

    def trace_id(self) -> str | None:
        """The current span's trace id (32 hex digits), or ``None`` outside a span."""
        context = self._trace.get_current_span().get_span_context()
        return f"{context.trace_id:032x}" if context.is_valid else None

    def route(self, method: str, template: str | None) -> None:
        """Name the current span after the route that served it, when one did."""
        if template is None:
            return
        span = self._trace.get_current_span()
        if span.is_recording():
            span.update_name(f"{method} {template}")
            span.set_attribute("http.route", template)

    def shutdown(self) -> None:
        """Export what is buffered, then stop the exporter."""
        self.provider.shutdown()


def _method_only(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Name a span by its method until routing knows the route (never by the raw path)."""
    return str(scope.get("method") or "HTTP"), {}
