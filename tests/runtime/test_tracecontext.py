"""W3C ``traceparent``: the request id joins the caller's trace; OpenTelemetry spans per request."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import falcon
import falcon.errors
import pytest
from falcon import testing
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from otlp_receiver import OTLPReceiver

from scaffold.runtime import ConfigError, Service, TraceParent, parse_config
from scaffold.runtime.observability import _tracing, parse_traceparent
from scaffold.runtime.testing import client

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
HEADER = f"00-{TRACE}-{SPAN}-01"
QUIET = "logging:\n  access_log: null\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (HEADER, TraceParent(TRACE, SPAN, 1, "00")),
        (f"00-{TRACE}-{SPAN}-00", TraceParent(TRACE, SPAN, 0, "00")),
        (f" 00-{TRACE}-{SPAN}-01\t", TraceParent(TRACE, SPAN, 1, "00")),
        (f"00-{TRACE}-{SPAN}-ff", TraceParent(TRACE, SPAN, 255, "00")),
        (f"01-{TRACE}-{SPAN}-01-future-fields", TraceParent(TRACE, SPAN, 1, "01")),
        (f"00-{TRACE}-{SPAN}-01-extra", None),
        (f"ff-{TRACE}-{SPAN}-01", None),
        (f"00-{'0' * 32}-{SPAN}-01", None),
        (f"00-{TRACE}-{'0' * 16}-01", None),
        (f"00-{TRACE.upper()}-{SPAN}-01", None),
        (f"00-{TRACE[:-1]}-{SPAN}-01", None),
        (f"00-{TRACE}-{SPAN}-1", None),
        (f"00_{TRACE}_{SPAN}_01", None),
        (f"\xa000-{TRACE}-{SPAN}-01\xa0", None),
        (f"{HEADER}X", None),
        ("", None),
        (None, None),
    ],
    ids=[
        "sampled",
        "not-sampled",
        "blanks-around",
        "every-flag",
        "future-version",
        "v00-with-more",
        "version-ff",
        "zero-trace",
        "zero-span",
        "uppercase",
        "short-trace",
        "short-flags",
        "underscores",
        "other-whitespace-around",
        "letter-after",
        "empty",
        "absent",
    ],
)
def test_parse_traceparent(value: str | None, expected: TraceParent | None) -> None:
    """Valid headers parse; every invalid form of the specification is refused.

    Flags are hex; only spaces and tabs (HTTP's optional whitespace) are trimmed.
    """
    assert parse_traceparent(value) == expected


def test_child_keeps_the_trace_and_makes_a_new_span() -> None:
    """child() is what a handler forwards: same trace and flags, another span id."""
    parent = TraceParent(TRACE, SPAN, 1)
    child = parent.child()
    assert (child.trace_id, child.flags, child.sampled) == (TRACE, 1, True)
    assert child.parent_id != SPAN and len(child.parent_id) == 16
    assert str(child) == f"00-{TRACE}-{child.parent_id}-01"
    assert parse_traceparent(str(child)) == child


def test_each_child_gets_a_new_random_span_id() -> None:
    """64 random bits as 16 hex digits, never all zero: a hundred children, a hundred ids."""
    parent = TraceParent(TRACE, SPAN, 1)
    ids = {parent.child().parent_id for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch("[0-9a-f]{16}", span) for span in ids)
    assert "0" * 16 not in ids


class Echo:
    async def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        trace = req.context.traceparent
        resp.media = {"traceparent": str(trace) if trace else None}


def build(extra: str = "", version: str | None = None) -> Service:
    service = Service("acme-widgets", parse_config(QUIET + extra, env={}), version=version)
    service.add_route("/v1/echo/{name}", Echo())
    return service


def test_a_valid_traceparent_makes_the_request_id_its_trace_id() -> None:
    """Without X-Request-Id, logs join the caller's trace; the handler sees the header."""
    result = client(build()).simulate_get("/v1/echo/a", headers={"traceparent": HEADER})
    assert result.headers["x-request-id"] == TRACE
    assert result.json == {"traceparent": HEADER}


def test_x_request_id_wins_over_traceparent() -> None:
    """A sane X-Request-Id is kept; the traceparent is still there for the handler."""
    result = client(build()).simulate_get(
        "/v1/echo/a", headers={"traceparent": HEADER, "X-Request-Id": "mine"}
    )
    assert result.headers["x-request-id"] == "mine"
    assert result.json == {"traceparent": HEADER}


def test_an_invalid_traceparent_is_ignored() -> None:
    """A malformed header gives a new request id and no traceparent."""
    result = client(build()).simulate_get(
        "/v1/echo/a", headers={"traceparent": f"00-{'0' * 32}-{SPAN}-01"}
    )
    assert result.headers["x-request-id"] != "0" * 32
    assert len(result.headers["x-request-id"]) == 32
    assert result.json == {"traceparent": None}


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    """A real OTLP/HTTP receiver the services' exporters send to."""
    with OTLPReceiver() as running:
        yield running


@pytest.fixture
def traced(
    receiver: OTLPReceiver,
) -> Iterator[Callable[[str], tuple[Service, InMemorySpanExporter]]]:
    """Build a traced service; its spans also go to an in-memory exporter. Closed afterwards."""
    services: list[Service] = []

    def make(extra: str = "", version: str | None = None) -> tuple[Service, InMemorySpanExporter]:
        service = build(f"tracing:\n  endpoint: {receiver.endpoint}\n" + extra, version)
        exporter = InMemorySpanExporter()
        assert service.tracing is not None
        service.tracing.provider.add_span_processor(SimpleSpanProcessor(exporter))
        services.append(service)
        return service, exporter

    yield make
    for service in services:
        service.close()


def test_a_span_per_request_continues_the_callers_trace(
    traced: Callable[[str], tuple[Service, InMemorySpanExporter]], receiver: OTLPReceiver
) -> None:
    """One server span, child of the caller's, named after the route template; OTLP gets it."""
    service, exporter = traced("")
    result = client(service).simulate_get("/v1/echo/ada", headers={"traceparent": HEADER})
    assert result.status_code == 200
    (span,) = exporter.get_finished_spans()
    context = span.get_span_context()
    assert f"{context.trace_id:032x}" == TRACE
    assert span.parent is not None and f"{span.parent.span_id:016x}" == SPAN
    assert span.kind == SpanKind.SERVER
    assert span.name == "GET /v1/echo/{name}"
    attributes: dict[str, Any] = dict(span.attributes or {})
    assert attributes["http.route"] == "/v1/echo/{name}"
    assert attributes.get("http.status_code", attributes.get("http.response.status_code")) == 200
    assert span.resource.attributes["service.name"] == "acme-widgets"
    assert "service.version" not in span.resource.attributes
    assert result.headers["x-request-id"] == TRACE
    service.close()  # exports what the batch holds
    (sent,) = receiver.wait_for(1)
    assert (sent["name"], sent["trace_id"], sent["parent_span_id"]) == (
        "GET /v1/echo/{name}",
        TRACE,
        SPAN,
    )
    assert sent["content_type"] == "application/x-protobuf"
    assert sent["resource"]["service.name"] == "acme-widgets"


def test_without_a_traceparent_the_request_id_is_the_new_traces_id(
    traced: Callable[[str], tuple[Service, InMemorySpanExporter]],
) -> None:
    """The span starts a trace, and the request id is its trace id, so logs and traces join."""
    service, exporter = traced("  service_name: acme-api\n")
    result = client(service).simulate_get("/v1/echo/ada")
    (span,) = exporter.get_finished_spans()
    assert result.headers["x-request-id"] == f"{span.get_span_context().trace_id:032x}"
    assert span.parent is None
    assert span.resource.attributes["service.name"] == "acme-api"
    assert client(service).simulate_get("/nowhere").status_code == 404
    assert exporter.get_finished_spans()[-1].name == "GET"  # no route: never the raw path


def test_sample_ratio_zero_records_no_new_trace_but_follows_the_caller(
    traced: Callable[[str], tuple[Service, InMemorySpanExporter]],
) -> None:
    """sample_ratio: 0 starts no trace of its own; a sampled caller's trace is still recorded."""
    service, exporter = traced("  sample_ratio: 0\n")
    client(service).simulate_get("/v1/echo/ada")
    assert exporter.get_finished_spans() == ()
    client(service).simulate_get("/v1/echo/ada", headers={"traceparent": HEADER})
    assert len(exporter.get_finished_spans()) == 1


def test_the_services_version_is_in_every_spans_resource(
    traced: Callable[..., tuple[Service, InMemorySpanExporter]],
) -> None:
    """service.version is the version the service states (in its OpenAPI document too)."""
    service, exporter = traced("", version="1.4.2")
    client(service).simulate_get("/v1/echo/ada")
    (span,) = exporter.get_finished_spans()
    assert span.resource.attributes["service.version"] == "1.4.2"


def test_addresses_a_server_gives_as_other_iterables_reach_the_span(
    traced: Callable[[str], tuple[Service, InMemorySpanExporter]],
) -> None:
    """ASGI allows any iterable for `server` and `client`; the span has both addresses."""
    service, exporter = traced("")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/v1/echo/ada",
        "raw_path": b"/v1/echo/ada",
        "query_string": b"",
        "root_path": "",
        "headers": iter([(b"host", b"acme.example")]),
        "server": iter(("10.0.0.2", 8080)),
        "client": iter(("10.0.0.1", 50000)),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(service.asgi(scope, receive, send))
    assert sent[0]["status"] == 200
    (span,) = exporter.get_finished_spans()
    attributes: dict[str, Any] = dict(span.attributes or {})
    assert (attributes["net.peer.ip"], attributes["net.peer.port"]) == ("10.0.0.1", 50000)
    assert attributes["net.host.port"] == 8080
    assert attributes["http.server_name"] == "acme.example"


def test_a_websocket_span_is_named_http_never_by_its_path(
    traced: Callable[[str], tuple[Service, InMemorySpanExporter]],
) -> None:
    """A WebSocket has no method: its span is named `HTTP` until a route names it."""
    service, exporter = traced("")

    async def connect() -> None:
        async with testing.ASGIConductor(service.asgi) as conductor:
            with pytest.raises(falcon.errors.WebSocketHandlerNotFound):
                async with conductor.simulate_ws("/v1/echo/ada"):
                    pass

    asyncio.run(connect())
    (span,) = exporter.get_finished_spans()
    assert span.name == "HTTP"


def test_a_collector_that_never_answers_holds_shutdown_for_the_export_timeout_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each export gives up after EXPORT_TIMEOUT, so a worker's exit is never held longer."""
    monkeypatch.setattr(_tracing, "EXPORT_TIMEOUT", 0.5)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never reads a request or answers one
    port = silent.getsockname()[1]
    try:
        service = build(f"tracing:\n  endpoint: http://127.0.0.1:{port}/v1/traces\n")
        assert client(service).simulate_get("/v1/echo/ada").status_code == 200
        started = time.monotonic()
        service.close()
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert 0.4 < elapsed < 3


def test_tracing_without_the_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing [otel] extra is a config problem naming the install command."""
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(ConfigError) as info:
        build("tracing: {}\n")
    assert info.value.problems == [
        "tracing: needs the [otel] extra, which is not installed: "
        "pip install 'scaffold-chassis[otel]'"
    ]
