"""``logging.format: json``: app log records, access log and request log lines as JSON objects."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import io
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import falcon
import pytest
from asgiclient import call_asgi

from scaffold.runtime import Service, parse_config
from scaffold.runtime.config_schema import LoggingConfig
from scaffold.runtime.context import Request
from scaffold.runtime.observability import LogFile, configure_logging, current_request_id
from scaffold.runtime.observability._accesslog import JSONAccessLog
from scaffold.runtime.observability._logconfig import (
    JSONFormatter,
    json_line,
    report_error,
    rfc3339,
)
from scaffold.runtime.observability._requestlog import JSONRequestLog
from scaffold.runtime.testing import client

ACCESS_KEYS = {
    "time",
    "remote",
    "user",
    "method",
    "path",
    "query",
    "protocol",
    "status",
    "bytes",
    "referer",
    "user_agent",
    "duration_ms",
    "request_id",
}


def parse_time(text: str) -> datetime.datetime:
    """An RFC 3339 time in UTC with milliseconds, as the JSON lines write it."""
    assert text.endswith("Z") and len(text) == len("2026-12-02T13:05:01.123Z"), text
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


@contextlib.contextmanager
def process_logging(config: LoggingConfig) -> Iterator[io.StringIO]:
    """Configure the process's logging with ``config``, writing to a buffer; then restore it."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    configure_logging(config)
    buffer = io.StringIO()
    for handler in root.handlers:
        if handler not in handlers and isinstance(handler, logging.StreamHandler):
            handler.setStream(buffer)
    try:
        yield buffer
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The process logs JSON (to the buffer this gives) for one test."""
    with process_logging(LoggingConfig(level="DEBUG", format="json")) as buffer:
        yield buffer


def records(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines()]


def test_a_record_is_one_json_object_with_the_documented_keys(
    json_log: io.StringIO,
) -> None:
    """Outside a request: time, level, logger and message, nothing else."""
    before = datetime.datetime.now(datetime.UTC)
    logging.getLogger("acme.orders").warning("%d orders late", 3)
    (record,) = records(json_log.getvalue())
    assert set(record) == {"time", "level", "logger", "message"}
    assert (record["level"], record["logger"], record["message"]) == (
        "WARNING",
        "acme.orders",
        "3 orders late",
    )
    logged = parse_time(record["time"])
    assert before - datetime.timedelta(milliseconds=1) <= logged
    assert logged <= datetime.datetime.now(datetime.UTC)


def test_a_record_inside_a_request_carries_its_id_and_an_exception_its_traceback(
    json_log: io.StringIO,
) -> None:
    """request_id while a request is served; exc holds the formatted traceback."""
    token = current_request_id.set("req-42")
    try:
        try:
            raise ValueError('bad "quote"\nand a newline')
        except ValueError:
            logging.getLogger("acme").exception("failed")
    finally:
        current_request_id.reset(token)
    logging.getLogger("acme").info("after")
    inside, after = records(json_log.getvalue())
    assert inside["request_id"] == "req-42"
    assert inside["exc"].startswith("Traceback (most recent call last):")
    assert inside["exc"].endswith('ValueError: bad "quote"\nand a newline')
    assert "request_id" not in after


def test_a_record_holding_a_lone_surrogate_is_still_one_json_line(
    json_log: io.StringIO,
) -> None:
    """Undecodable input left in a message never costs the line."""
    logging.getLogger("acme").error("path %s", b"/caf\xe9".decode("utf-8", "surrogateescape"))
    (record,) = records(json_log.getvalue())
    assert record["message"] == "path /caf\udce9"


def test_the_text_format_stays_the_default() -> None:
    """logging.format: text keeps one human line per record with the request id at its end."""
    with process_logging(LoggingConfig(level="INFO")) as buffer:
        token = current_request_id.set("req-7")
        try:
            logging.getLogger("acme").info("hello")
        finally:
            current_request_id.reset(token)
    line = buffer.getvalue().strip()
    assert line.endswith(f" INFO [{os.getpid()}] acme: hello request_id=req-7")


class Widgets:
    async def on_get(self, req: falcon.Request, resp: falcon.Response, widget_id: str) -> None:
        resp.media = {"id": widget_id, "password": "hunter2"}


def json_service(tmp_path: Path, extra: str = "") -> tuple[Service, Path, Path]:
    access, requests = tmp_path / "access.log", tmp_path / "requests.log"
    config = parse_config(
        f"logging:\n  format: json\n  access_log: {access}\n  request_log: {requests}\n{extra}",
        env={},
    )
    service = Service("acme-widgets", config)
    service.add_route("/widgets/{widget_id}", Widgets())
    return service, access, requests


def test_an_access_log_line_is_an_object_with_every_documented_key(tmp_path: Path) -> None:
    """Each key of DESIGN 4.6, with absent values as null and numbers as numbers."""
    service, access, _ = json_service(tmp_path)
    before = datetime.datetime.now(datetime.UTC)
    result = client(service).simulate_get(
        "/widgets/7",
        query_string="color=red&size=2",
        remote_addr="10.1.2.3",
        headers={
            "User-Agent": "probe/1.0",
            "Referer": "https://example.com/a",
            "X-Request-Id": "abc",
        },
    )
    after = datetime.datetime.now(datetime.UTC)
    (line,) = access.read_text().splitlines()
    entry = json.loads(line)
    assert set(entry) == ACCESS_KEYS
    assert before - datetime.timedelta(milliseconds=1) <= parse_time(entry["time"]) <= after
    duration = entry.pop("duration_ms")
    assert isinstance(duration, float) and 0 < duration < 1000
    entry.pop("time")
    assert entry == {
        "remote": "10.1.2.3",
        "user": None,
        "method": "GET",
        "path": "/widgets/7",
        "query": "color=red&size=2",
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes": len(result.content),
        "referer": "https://example.com/a",
        "user_agent": "probe/1.0",
        "request_id": "abc",
    }


def test_a_hostile_access_log_value_stays_inside_its_json_string(tmp_path: Path) -> None:
    """Quotes, newlines and non-UTF-8 bytes cannot split or forge a line."""
    service, access, _ = json_service(tmp_path)
    agent = 'evil" 200 "x\n127.0.0.1 - - [forged]'
    status, _, _ = asyncio.run(
        call_asgi(service.app, "GET", b"/widgets/caf\xe9", headers={"User-Agent": agent})
    )
    assert status == 400  # the target does not decode
    (line,) = access.read_text().splitlines()
    entry = json.loads(line)
    assert entry["user_agent"] == agent
    assert entry["path"] == "/widgets/caf\\xe9"
    assert entry["status"] == 400


def test_the_request_log_is_one_redacted_object_per_exchange(tmp_path: Path) -> None:
    """Headers and JSON bodies as values, secrets replaced, one line per exchange."""
    service, _, requests = json_service(tmp_path)
    client(service).simulate_get(
        "/widgets/9", headers={"Authorization": "Basic eDp5", "X-Request-Id": "r1"}
    )
    (line,) = requests.read_text().splitlines()
    entry = json.loads(line)
    assert entry["request_id"] == "r1"
    assert (entry["method"], entry["target"], entry["status"]) == ("GET", "/widgets/9", 200)
    assert entry["request"]["headers"]["Authorization"] == "[REDACTED]"
    assert entry["request"]["body"] == "(no body)"
    assert entry["response"]["body"] == {"id": "9", "password": "[REDACTED]"}
    assert entry["response"]["headers"]["Content-Type"] == "application/json"
    assert entry["duration_ms"] >= 0
    parse_time(entry["time"])


def test_the_text_formats_are_unchanged_by_the_json_option(tmp_path: Path) -> None:
    """format: text (the default) keeps Apache combined lines and curl-style request blocks."""
    access, requests = tmp_path / "access.log", tmp_path / "requests.log"
    config = parse_config(f"logging:\n  access_log: {access}\n  request_log: {requests}\n", env={})
    service = Service("acme-widgets", config)
    service.add_route("/widgets/{widget_id}", Widgets())
    client(service).simulate_get("/widgets/9", headers={"X-Request-Id": "r1"})
    assert '"GET /widgets/9 HTTP/1.1" 200 ' in access.read_text()
    assert requests.read_text().startswith("r1 > GET /widgets/9 HTTP/1.1\n")


@pytest.mark.parametrize(
    ("timestamp", "text"),
    [
        (1_800_000_000.0, "2027-01-15T08:00:00.000Z"),
        (1_800_000_000.25, "2027-01-15T08:00:00.250Z"),
        (1_800_000_000.9995, "2027-01-15T08:00:00.999Z"),
        (1_800_003_661.5, "2027-01-15T09:01:01.500Z"),
    ],
    ids=["whole-second", "millis", "truncated-never-rounded-up", "another-second"],
)
def test_rfc3339(local_time: Callable[[str], None], timestamp: float, text: str) -> None:
    """The time of the given instant in UTC, whatever the local zone; milliseconds truncated."""
    local_time("IST-5:30")
    assert rfc3339(timestamp) == text


class Opaque:
    """A value no JSON encoder knows."""

    def __str__(self) -> str:
        return "opaque"


@pytest.mark.parametrize(
    ("document", "line"),
    [
        ({"message": "café", "n": 1}, '{"message":"café","n":1}'),
        ({"value": Opaque()}, '{"value":"opaque"}'),
        ({"message": "caf\udce9"}, '{"message": "caf\\udce9"}'),
        (
            {"message": "caf\udce9", "value": Opaque()},
            '{"message": "caf\\udce9", "value": "opaque"}',
        ),
    ],
    ids=["compact-utf8", "unknown-type-as-str", "lone-surrogate-escaped", "both"],
)
def test_json_line(document: dict[str, Any], line: str) -> None:
    """Compact UTF-8 JSON; values JSON cannot hold as their str; lone surrogates escaped."""
    assert json_line(document) == line
    assert json.loads(line)["n" if "n" in document else next(iter(document))] is not None
    line.encode("utf-8")  # a lone surrogate would not encode: the line could not be written


def test_a_record_keeps_a_traceback_it_carries_as_text_and_its_stack(
    json_log: io.StringIO,
) -> None:
    """exc from a record's exc_text (records from elsewhere carry only that); stack_info as stack."""
    record = logging.makeLogRecord(
        {
            "name": "acme",
            "levelno": logging.ERROR,
            "levelname": "ERROR",
            "msg": "remote",
            "exc_text": "Traceback: boom",
        }
    )
    logging.getLogger("acme").handle(record)
    logging.getLogger("acme").info("here", stack_info=True)
    remote, here = records(json_log.getvalue())
    assert remote["exc"] == "Traceback: boom"
    assert "stack" not in remote
    assert here["stack"].startswith("Stack (most recent call last):")
    assert "test_a_record_keeps_a_traceback_it_carries_as_text_and_its_stack" in here["stack"]
    assert "exc" not in here


def test_configuring_again_replaces_only_the_runtimes_handler() -> None:
    """A second configure_logging leaves one stderr handler of its own and keeps everyone else's."""
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    try:
        with process_logging(LoggingConfig(level="INFO")):
            configure_logging(LoggingConfig(level="INFO", format="json"))
            added = [h for h in root.handlers if getattr(h, "_scaffold", False)]
            assert len(added) == 1
            assert isinstance(added[0], logging.StreamHandler)
            assert added[0].stream is sys.stderr
            assert isinstance(added[0].formatter, JSONFormatter)
            assert foreign in root.handlers
    finally:
        root.removeHandler(foreign)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_report_error_speaks_the_configured_format(
    fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """text: one 'Error: ...' line on stderr; json: an ERROR record of scaffold.server."""
    with process_logging(LoggingConfig(level="INFO", format=fmt)) as buffer:
        report_error("port 8080 is taken (100% sure)")
    out, err = capsys.readouterr()
    assert out == ""
    if fmt == "text":
        assert err == "Error: port 8080 is taken (100% sure)\n"
        assert buffer.getvalue() == ""
    else:
        assert err == ""
        (record,) = records(buffer.getvalue())
        assert (record["level"], record["logger"], record["message"]) == (
            "ERROR",
            "scaffold.server",
            "port 8080 is taken (100% sure)",
        )
    configure_logging(LoggingConfig())  # back to text for the next report_error


def request_from(scope: dict[str, Any], body: bytes = b"") -> Request:
    """The runtime's request over an ASGI scope as a server hands it over, with ``body``."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return Request({"type": "http", "query_string": b"", "headers": [], **scope}, receive)


@pytest.mark.parametrize(
    ("scope", "fields"),
    [
        (
            {"method": "PUT", "path": "/caf\xe9", "http_version": "2"},
            {"path": "/café", "protocol": "HTTP/2", "remote": None},
        ),
        (
            {"method": "GET", "path": "/\udcff", "client": ("10.0.0.1", 5)},
            {"path": "/\\xff", "protocol": "HTTP/1.1", "remote": "10.0.0.1"},
        ),
        (
            {"method": "GET", "raw_path": b"/a%20b", "path": "/a b", "query_string": b"x=1"},
            {"path": "/a%20b", "query": "x=1", "protocol": "HTTP/1.1"},
        ),
    ],
    ids=["no-raw-path", "undecodable-path", "raw-target"],
)
def test_an_access_log_object_from_the_scope(scope: dict[str, Any], fields: dict[str, Any]) -> None:
    """The raw target when the server gives one, else the path as UTF-8; HTTP/1.1 if unknown."""
    access_log = JSONAccessLog(LogFile("-", key="logging.access_log"))
    line = access_log.format(
        request_from(scope),
        status=201,
        size=7,
        user="ada",
        started=1_800_000_000.25,
        elapsed=0.00123456,
        request_id="r1",
    )
    assert line.endswith("}\n") and line.count("\n") == 1
    entry = json.loads(line)
    assert {key: entry[key] for key in fields} == fields
    assert (entry["time"], entry["duration_ms"], entry["method"]) == (
        "2027-01-15T08:00:00.250Z",
        1.235,
        scope["method"],
    )
    assert (entry["status"], entry["bytes"], entry["user"], entry["request_id"]) == (
        201,
        7,
        "ada",
        "r1",
    )


@pytest.mark.parametrize(
    ("peer", "remote"),
    [(("10.0.0.9", 5555), "10.0.0.9"), (None, None), (("", 0), ""), ("/run/acme.sock", None)],
    ids=["tcp", "no-peer", "empty-address", "unix-socket-path"],
)
def test_a_refused_request_is_an_object_with_every_key(peer: Any, remote: str | None) -> None:
    """A request the HTTP parser refused: its peer, status, size and id; null for all else."""
    access_log = JSONAccessLog(LogFile("-", key="logging.access_log"))
    line = access_log.format_refused(
        peer, status=400, size=11, started=1_800_000_000.25, request_id="rid-9"
    )
    assert line.endswith("}\n") and line.count("\n") == 1
    assert json.loads(line) == {
        "time": "2027-01-15T08:00:00.250Z",
        "remote": remote,
        "user": None,
        "method": None,
        "path": None,
        "query": None,
        "protocol": None,
        "status": 400,
        "bytes": 11,
        "referer": None,
        "user_agent": None,
        "duration_ms": 0.0,
        "request_id": "rid-9",
    }


@pytest.mark.parametrize(
    ("http_version", "protocol"),
    [({"http_version": "2"}, "HTTP/2"), ({}, "HTTP/1.1")],
    ids=["http2", "unknown-version"],
)
def test_a_request_log_object_from_the_exchange(
    tmp_path: Path, http_version: dict[str, str], protocol: str
) -> None:
    """Arrival time, protocol and duration as the exchange had them; the body the service read."""
    log = tmp_path / "requests.log"
    request_log = JSONRequestLog(
        LogFile(str(log), key="logging.request_log"), redact_headers=(), redact_fields=()
    )
    req = request_from(
        {"method": "POST", "path": "/echo", "headers": [(b"content-type", b"application/json")]}
        | http_version,
        body=b'{"name": "Ada"}',
    )
    req.context.request_id = "r2"
    req.context.started = 1_800_000_000.25
    request_log.start(req)
    assert asyncio.run(req.stream.read()) == b'{"name": "Ada"}'  # the service reads it
    resp = falcon.asgi.Response()
    resp.content_type = "application/json"
    request_log.record(req, resp, status=200, body=b'{"ok": true}', elapsed=0.00123456)
    request_log.log_file.close()
    entry = json.loads(log.read_text())
    assert (entry["time"], entry["protocol"], entry["duration_ms"]) == (
        "2027-01-15T08:00:00.250Z",
        protocol,
        1.235,
    )
    assert entry["request"]["body"] == {"name": "Ada"}
    assert entry["response"] == {
        "headers": {"Content-Type": "application/json"},
        "body": {"ok": True},
    }
