"""The request log: headers and bodies of each exchange, secrets redacted before writing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import falcon
import falcon.asgi
import pytest
from asgiclient import call_asgi

from scaffold.runtime import Service, parse_config
from scaffold.runtime.context import Request
from scaffold.runtime.observability import LogFile
from scaffold.runtime.observability._requestlog import (
    MAX_LOGGED_BODY,
    REDACTED,
    RequestLog,
    redact_json,
)
from scaffold.runtime.testing import client
from scaffold.runtime.typed import read_json

SECRETS = ["hunter2", "s3cr3t-token", "nested-secret", "cookie-value", "api-key-value"]


class Echo:
    async def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        if (req.content_type or "").startswith("application/json"):
            resp.media = {"got": await read_json(req), "secret": "nested-secret"}
        else:
            await req.bounded_stream.read()
            resp.text = "ok"


def build(tmp_path: Path, extra: str = "") -> tuple[Service, Path]:
    log = tmp_path / "requests.log"
    config = parse_config(f"logging:\n  access_log: null\n  request_log: {log}\n{extra}", env={})
    service = Service("acme", config)
    service.add_route("/echo", Echo())
    return service, log


def test_secrets_never_reach_the_file(tmp_path):
    """Secret headers and JSON fields at any depth and any case are redacted in both directions."""
    service, log = build(tmp_path, "  redact_headers: [X-Api-Key]\n")
    body = {
        "name": "Ada",
        "Password": "hunter2",
        "profile": {"tokens": [{"TOKEN": "s3cr3t-token"}], "secret": {"deep": "nested-secret"}},
    }
    result = client(service).simulate_post(
        "/echo",
        json=body,
        headers={
            "Authorization": "Bearer hunter2",
            "Cookie": "session=cookie-value",
            "X-Api-Key": "api-key-value",
        },
        params={"token": "s3cr3t-token", "page": "2"},
    )
    assert result.status_code == 200
    text = log.read_text()
    for secret in SECRETS:
        assert secret not in text
    assert "Ada" in text
    assert "Authorization: [REDACTED]" in text
    assert "X-Api-Key: [REDACTED]" in text
    assert "token=[REDACTED]" in text
    assert "page=2" in text


def test_default_headers_stay_redacted_when_list_is_replaced(tmp_path):
    """Authorization and Cookie are redacted even if redact_headers names only others."""
    service, log = build(tmp_path, "  redact_headers: [X-Other]\n")
    client(service).simulate_post(
        "/echo", json={}, headers={"Authorization": "Basic hunter2", "Cookie": "a=cookie-value"}
    )
    text = log.read_text()
    assert "hunter2" not in text
    assert "cookie-value" not in text


def test_block_is_prefixed_by_request_id(tmp_path):
    """Every line of a block starts with the request id; request then response."""
    service, log = build(tmp_path)
    client(service).simulate_post("/echo", json={"a": 1}, headers={"X-Request-Id": "rid-1"})
    lines = log.read_text().splitlines()
    assert all(line.startswith("rid-1 ") for line in lines)
    assert lines[0] == "rid-1 > POST /echo HTTP/1.1"
    assert 'rid-1 > {"a": 1}' in lines
    assert any(line.startswith("rid-1 < 200 OK (") for line in lines)
    assert lines[-1].startswith("rid-1 < {")


def test_non_json_bodies_by_size_only(tmp_path):
    """A form body is logged by size and type, never its content."""
    service, log = build(tmp_path)
    form = "user=ada&password=hunter2"
    client(service).simulate_post(
        "/echo", body=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    text = log.read_text()
    assert "hunter2" not in text
    assert f"(body of {len(form)} bytes, application/x-www-form-urlencoded)" in text


def test_unread_body_and_errors(tmp_path):
    """A 404 is logged too; an unread body is reported by its declared size."""
    service, log = build(tmp_path)
    client(service).simulate_post("/missing", json={"password": "hunter2"})
    text = log.read_text()
    assert "hunter2" not in text
    assert "< 404 Not Found" in text
    assert "not read by the service" in text


def test_off_by_default(tmp_path, capsys):
    """Without logging.request_log nothing is written."""
    service = Service("acme", parse_config("logging:\n  access_log: null\n", env={}))
    service.add_route("/echo", Echo())
    client(service).simulate_post("/echo", json={"password": "hunter2"})
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"password": "x"}, {"password": REDACTED}),
        ([{"a": {"SECRET": 1}}], [{"a": {"SECRET": REDACTED}}]),
        ({"token": {"nested": "x"}}, {"token": REDACTED}),
        ("password", "password"),
    ],
    ids=["top-level", "nested-in-list", "whole-subtree", "scalar"],
)
def test_redact_json(doc, expected):
    """Keys are matched without case at any depth; a redacted key hides its whole value."""
    assert redact_json(doc, frozenset({"password", "secret", "token"})) == expected


class Mirror:
    """Answers with the body and Content-Type it was sent; GET answers one of several shapes."""

    async def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.data = await req.bounded_stream.read()
        if req.content_type:
            resp.content_type = req.content_type

    async def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        shape = req.get_param("shape", default="json")
        if shape == "stream":

            async def chunks() -> AsyncIterator[bytes]:
                yield b'{"a": 1}'

            resp.stream = chunks()
            return
        if shape == "empty":
            return
        resp.status = int(req.get_param("status", default="200"))
        resp.media = {"a": 1}


def mirror(tmp_path: Path) -> tuple[Service, Path]:
    service, log = build(tmp_path)
    service.add_route("/mirror", Mirror())
    return service, log


@pytest.mark.parametrize(
    ("content_type", "logged"),
    [
        ("application/json", '{"password": "[REDACTED]", "a": 1}'),
        ("application/json; charset=utf-8; x=y", '{"password": "[REDACTED]", "a": 1}'),
        ("Application/Problem+JSON", '{"password": "[REDACTED]", "a": 1}'),
        ("text/plain", "(body of 31 bytes, text/plain)"),
        ("application/jsonx", "(body of 31 bytes, application/jsonx)"),
    ],
    ids=["json", "json-with-parameters", "suffix-any-case", "text", "not-json"],
)
def test_json_bodies_are_known_by_their_media_type(
    tmp_path: Path, content_type: str, logged: str
) -> None:
    """application/json and application/*+json, with parameters and in any case, are JSON."""
    service, log = mirror(tmp_path)
    client(service).simulate_post(
        "/mirror",
        body=b'{"password": "hunter2", "a": 1}',
        headers={"Content-Type": content_type, "X-Request-Id": "r"},
    )
    lines = log.read_text().splitlines()
    assert f"r > {logged}" in lines
    assert lines[-1] == f"r < {logged}"


def test_a_body_without_a_content_type_is_described(tmp_path: Path) -> None:
    """A body that names no media type is logged by size, saying so."""
    service, log = mirror(tmp_path)
    client(service).simulate_post("/mirror", body=b"hello", headers={"X-Request-Id": "r"})
    lines = log.read_text().splitlines()
    assert "r > (body of 5 bytes, no Content-Type)" in lines
    assert lines[-1] == "r < (body of 5 bytes, no Content-Type)"


@pytest.mark.parametrize(
    ("size", "is_logged"), [(MAX_LOGGED_BODY, True), (MAX_LOGGED_BODY + 1, False)]
)
def test_json_bodies_are_logged_up_to_the_limit(tmp_path: Path, size: int, is_logged: bool) -> None:
    """A JSON body of MAX_LOGGED_BODY bytes is logged; one byte more only by its size."""
    service, log = mirror(tmp_path)
    body = b'{"a": "' + b"x" * (size - 9) + b'"}'
    assert len(body) == size
    client(service).simulate_post(
        "/mirror", body=body, headers={"Content-Type": "application/json", "X-Request-Id": "r"}
    )
    expected = body.decode() if is_logged else f"(body of {size} bytes, application/json)"
    assert log.read_text().splitlines()[-1] == f"r < {expected}"


@pytest.mark.parametrize(
    ("method", "params", "last"),
    [
        ("GET", {}, '{"a": 1}'),
        ("HEAD", {}, "(no body)"),
        ("GET", {"status": "204"}, "(no body)"),
        ("GET", {"status": "304"}, "(no body)"),
        ("GET", {"shape": "stream"}, "(streamed body)"),
        ("GET", {"shape": "empty"}, "(no body)"),
    ],
    ids=["body", "head", "204", "304", "stream", "empty"],
)
def test_response_bodies_that_are_not_sent_are_not_logged(
    tmp_path: Path, method: str, params: dict[str, str], last: str
) -> None:
    """HEAD, 204 and 304 send no body; a stream is named, not read; an empty answer has none."""
    service, log = mirror(tmp_path)
    client(service).simulate_request(
        method, "/mirror", params=params, headers={"X-Request-Id": "r"}
    )
    assert log.read_text().splitlines()[-1] == f"r < {last}"


def test_the_target_keeps_the_query_and_redacts_whole_values(tmp_path: Path) -> None:
    """A redacted parameter hides its whole value, '=' padding included; the rest stays in order."""
    service, log = build(tmp_path)
    client(service).simulate_post(
        "/echo", query_string="token=YWRhOnMzY3JldA==&page=2&flag", headers={"X-Request-Id": "r"}
    )
    assert log.read_text().splitlines()[0] == (
        "r > POST /echo?token=[REDACTED]&page=2&flag HTTP/1.1"
    )


def test_a_header_cannot_split_a_block_line(tmp_path: Path) -> None:
    """CR and LF in a header value are written as \\r and \\n, so each header stays one line."""
    service, log = build(tmp_path)
    status, _, _ = asyncio.run(
        call_asgi(
            service.app,
            "POST",
            b"/echo",
            headers={"X-Note": "a\r\nr > forged", "X-Request-Id": "r"},
        )
    )
    assert status == 200
    assert "r > X-Note: a\\r\\nr > forged" in log.read_text().splitlines()


@pytest.mark.parametrize(
    ("http_version", "protocol"),
    [({"http_version": "2"}, "HTTP/2"), ({}, "HTTP/1.1")],
    ids=["http2", "unknown-version"],
)
def test_a_block_from_the_exchange(
    tmp_path: Path, http_version: dict[str, str], protocol: str
) -> None:
    """The request line's protocol as the server gave it (1.1 if not) and the duration in ms."""
    log = tmp_path / "requests.log"
    request_log = RequestLog(
        LogFile(str(log), key="logging.request_log"), redact_headers=(), redact_fields=()
    )
    scope = {"type": "http", "method": "GET", "path": "/x", "query_string": b"", "headers": []}

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    req = Request(scope | http_version, receive)
    req.context.request_id = "r2"
    request_log.start(req)
    request_log.record(req, falcon.asgi.Response(), status=200, body=None, elapsed=0.00123456)
    request_log.log_file.close()
    assert log.read_text().splitlines() == [
        f"r2 > GET /x {protocol}",
        "r2 > (no body)",
        "r2 < 200 OK (1.235 ms)",
        "r2 < (no body)",
    ]
