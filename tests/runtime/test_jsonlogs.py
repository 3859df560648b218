"""``logging.format: json``: app log records, access log and request log lines as JSON objects."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon
import pytest
from asgiclient import call_asgi

from scaffold.runtime import Service, parse_config
from scaffold.runtime.config_schema import LoggingConfig
from scaffold.runtime.observability import configure_logging, current_request_id
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
