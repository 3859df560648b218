"""The app port's access log: Apache combined lines that a real parser reads."""

from __future__ import annotations

import datetime
from pathlib import Path

import apachelogs
import falcon
import pytest

from scaffold.runtime import Service, parse_config
from scaffold.runtime.observability._accesslog import escape
from scaffold.runtime.testing import admin_client, client

COMBINED = apachelogs.LogParser(apachelogs.COMBINED)
EXTENDED = apachelogs.LogParser(apachelogs.COMBINED + " %D %{X-Request-Id}o")


class Widgets:
    def on_get(self, req: falcon.Request, resp: falcon.Response, widget_id: str) -> None:
        resp.media = {"id": widget_id}

    def on_delete(self, req: falcon.Request, resp: falcon.Response, widget_id: str) -> None:
        """Write nothing: falcon's default 200 with an empty body."""

    def on_post(self, req: falcon.Request, resp: falcon.Response, widget_id: str) -> None:
        raise RuntimeError("boom")

    def on_put(self, req: falcon.Request, resp: falcon.Response, widget_id: str) -> None:
        resp.status = int(req.get_param("status", default="200"))
        resp.text = "x"


class SetUser:
    """Stands in for Basic auth: sets the verified user the access log shows."""

    async def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        user = req.get_header("X-Test-User")
        if user:
            req.context.user = user


def build(tmp_path: Path, extra: str = "") -> tuple[Service, Path]:
    log = tmp_path / "access.log"
    config = parse_config(
        f"logging:\n  access_log: {log}\n{extra}\nserver:\n  max_body_bytes: 10\n", env={}
    )
    service = Service("acme-widgets", config)
    service.add_route("/widgets/{widget_id}", Widgets())
    service.app.add_middleware(SetUser())
    return service, log


def lines(log: Path) -> list[str]:
    return log.read_text().splitlines()


@pytest.mark.parametrize(
    ("method", "path", "status", "size"),
    [
        ("GET", "/widgets/7", 200, 10),
        ("GET", "/nothing/here", 404, None),
        ("PATCH", "/widgets/7", 405, None),
        ("POST", "/widgets/7", 500, None),
        ("DELETE", "/widgets/7", 200, None),
        ("HEAD", "/widgets/7", 200, None),
    ],
    ids=["ok", "not-found", "not-allowed", "handler-bug", "empty-body", "head"],
)
def test_line_is_combined_with_real_status(tmp_path, method, path, status, size):
    """Every outcome, errors included, logs one parseable line with the status sent."""
    service, log = build(tmp_path)
    result = client(service).simulate_request(method, path, remote_addr="10.1.2.3")
    assert result.status_code == status
    [line] = lines(log)
    entry = COMBINED.parse(line)
    assert entry.remote_host == "10.1.2.3"
    assert entry.request_line == f"{method} {path} HTTP/1.1"
    assert entry.final_status == status
    if size is None and status >= 400:
        assert entry.bytes_sent == len(result.content)
    else:
        assert entry.bytes_sent == size
    assert entry.remote_user is None
    assert entry.headers_in["User-Agent"].startswith("falcon-client")


def test_empty_body_logs_200_and_dash(tmp_path):
    """A handler that writes nothing logs 200 (never 0) and `-` for the size."""
    service, log = build(tmp_path)
    client(service).simulate_delete("/widgets/1")
    assert ' 200 - "-"' in lines(log)[0]


@pytest.mark.parametrize("status", [418, 429, 503])
def test_any_status(tmp_path, status):
    """Unusual statuses are logged as sent."""
    service, log = build(tmp_path)
    client(service).simulate_put("/widgets/1", params={"status": str(status)})
    assert COMBINED.parse(lines(log)[0]).final_status == status


def test_body_limit_refusal_is_logged(tmp_path):
    """A 413 from a later middleware is still observed."""
    service, log = build(tmp_path)
    client(service).simulate_put("/widgets/1", body=b"x" * 100)
    assert COMBINED.parse(lines(log)[0]).final_status == 413


def test_raw_target_time_referer_and_escaping(tmp_path):
    """The raw query is kept; quotes, backslashes and control bytes are escaped Apache-style."""
    service, log = build(tmp_path)
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    client(service).simulate_get(
        "/widgets/1",
        query_string="q=a%20b&x=1",
        headers={"Referer": 'https://x.test/"quoted"', "User-Agent": 'ua\\ "x"\x01'},
    )
    entry = COMBINED.parse(lines(log)[0])
    assert entry.request_line == "GET /widgets/1?q=a%20b&x=1 HTTP/1.1"
    assert entry.headers_in["Referer"] == 'https://x.test/"quoted"'
    assert entry.headers_in["User-Agent"] == 'ua\\ "x"\x01'
    after = datetime.datetime.now(datetime.UTC)
    assert before <= entry.request_time <= after


def test_verified_user_is_shown(tmp_path):
    """The user field shows the user set by auth after verification, escaped to one field."""
    service, log = build(tmp_path)
    client(service).simulate_get("/widgets/1", headers={"X-Test-User": "ada lovelace"})
    client(service).simulate_get("/widgets/1")
    first, second = (COMBINED.parse(line) for line in lines(log))
    assert " - ada\\x20lovelace [" in lines(log)[0]
    assert first.remote_user == "ada lovelace"
    assert second.remote_user is None


def test_extended_format_adds_duration_and_request_id(tmp_path):
    """`access_log_format: extended` appends %D and the request id."""
    service, log = build(tmp_path, "  access_log_format: extended")
    result = client(service).simulate_get("/widgets/1", headers={"X-Request-Id": "req-42"})
    entry = EXTENDED.parse(lines(log)[0])
    assert entry.directives["%{X-Request-Id}o"] == result.headers["X-Request-Id"] == "req-42"
    assert 0 <= entry.directives["%D"] < 5_000_000


def test_stdout_and_off(tmp_path, capsys):
    """`-` writes to stdout; null writes nothing; the admin port is never logged."""
    service = Service("acme", parse_config("logging:\n  access_log: '-'\n", env={}))
    client(service).simulate_get("/x")
    admin_client(service).simulate_get("/ping")
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert COMBINED.parse(out[0]).final_status == 404
    quiet = Service("acme", parse_config("logging:\n  access_log: null\n", env={}))
    client(quiet).simulate_get("/x")
    assert capsys.readouterr().out == ""


def test_unwritable_path_is_a_config_error(tmp_path):
    """A log path that cannot be opened fails at start-up, naming the key."""
    from scaffold.runtime import ConfigError

    config = parse_config(f"logging:\n  access_log: {tmp_path}/no/such/dir/a.log\n", env={})
    with pytest.raises(ConfigError, match=r"logging\.access_log: cannot open"):
        Service("acme", config)


def test_escape_fast_path_and_bytes():
    """Plain values are returned as they are; others get Apache's escapes."""
    assert escape("GET / HTTP/1.1") == "GET / HTTP/1.1"
    assert escape('a"b\\c\n\xe9') == 'a\\"b\\\\c\\n\\xe9'
    assert escape("", quoted=False) == "-"


FORGERIES = [
    'evil" 200 - "injected',
    "back\\slash and \\x41 text",
    "line\nbreak\r\nand\ttab",
    "escape \x1b[31mred\x1b[0m and DEL \x7f",
    "caf\xe9 latin-1 bytes",
]


@pytest.mark.parametrize(
    "value", FORGERIES, ids=["quote", "backslash", "newline", "control", "latin1"]
)
def test_fields_cannot_forge_a_line(tmp_path, value):
    """Quotes, backslashes and control bytes are escaped so a parser reads each value back."""
    service, log = build(tmp_path)
    client(service).simulate_get(
        "/widgets/1",
        headers={"User-Agent": value, "Referer": value, "X-Test-User": value},
    )
    [line] = lines(log)
    entry = COMBINED.parse(line)
    assert entry.headers_in["User-Agent"] == value
    assert entry.headers_in["Referer"] == value
    assert entry.remote_user == value
    assert entry.final_status == 200


def test_request_line_cannot_forge_a_line(tmp_path):
    """A target with a quote and a space-like byte stays one field."""
    service, log = build(tmp_path)
    client(service).simulate_get('/widgets/a"b')
    entry = COMBINED.parse(lines(log)[0])
    assert entry.request_line == 'GET /widgets/a"b HTTP/1.1'
    assert entry.final_status == 200
