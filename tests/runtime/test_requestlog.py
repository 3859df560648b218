"""The request log: headers and bodies of each exchange, secrets redacted before writing."""

from __future__ import annotations

from pathlib import Path

import falcon
import pytest

from scaffold.runtime import Service, parse_config
from scaffold.runtime.observability._requestlog import REDACTED, redact_json
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
