"""The app port's access log: Apache combined lines that a real parser reads."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import apachelogs
import falcon
import pytest
from asgiclient import call_asgi
from falcon import testing

from scaffold.runtime import Service, parse_config
from scaffold.runtime.context import Request
from scaffold.runtime.observability import AccessLog, LogFile
from scaffold.runtime.observability._accesslog import clf_time, escape, request_line
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


@pytest.mark.parametrize("key", ["access_log", "request_log"])
def test_unwritable_path_is_a_config_error(tmp_path, key):
    """A log path that cannot be opened fails at start-up, naming the key."""
    from scaffold.runtime import ConfigError

    config = parse_config(f"logging:\n  {key}: {tmp_path}/no/such/dir/a.log\n", env={})
    with pytest.raises(ConfigError, match=rf"^logging\.{key}: cannot open"):
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


@pytest.mark.parametrize(
    ("value", "quoted", "logged"),
    [
        ('say "hi" ~!', True, 'say \\"hi\\" ~!'),
        ("DEL \x7f and NUL \x00", True, "DEL \\x7f and NUL \\x00"),
        ("tab\there", True, "tab\\there"),
        ("caf\xe9", True, "caf\\xe9"),
        ("\u0141ukasz", True, "\\xc5\\x81ukasz"),
        ("ada lovelace", False, "ada\\x20lovelace"),
        ("a~!b", False, "a~!b"),
        ("", False, "-"),
        ("", True, ""),
    ],
    ids=[
        "quotes-and-edges",
        "del-and-nul",
        "tab",
        "latin-1",
        "beyond-latin-1",
        "unquoted-space",
        "unquoted-plain",
        "unquoted-empty",
        "quoted-empty",
    ],
)
def test_escape(value: str, quoted: bool, logged: str) -> None:
    """Apache's escapes: visible ASCII as is, quotes and backslashes escaped, other bytes \\xhh."""
    assert escape(value, quoted=quoted) == logged


@pytest.mark.parametrize(
    ("tz", "timestamp", "text"),
    [
        ("UTC0", 1_800_000_000, "15/Jan/2027:08:00:00 +0000"),
        ("IST-5:30", 1_800_000_001, "15/Jan/2027:13:30:01 +0530"),
        ("NST+3:30", 1_800_000_002, "15/Jan/2027:04:30:02 -0330"),
    ],
    ids=["utc", "east", "west"],
)
def test_clf_time_in_local_time_with_its_offset(
    local_time: Callable[[str], None], tz: str, timestamp: int, text: str
) -> None:
    """%t is local time with a signed +hhmm offset; UTC is +0000, never -0000."""
    local_time(tz)
    assert clf_time(timestamp + 0.9) == text
    assert clf_time(timestamp) == text  # the same second, from the one-entry cache


@pytest.mark.parametrize(
    ("scope", "line"),
    [
        (
            {"method": "GET", "raw_path": b"/a%20b", "path": "/a b", "query_string": b"x=%41"},
            "GET /a%20b?x=%41 HTTP/1.1",
        ),
        ({"method": "PUT", "path": "/caf\xe9", "http_version": "2"}, "PUT /caf\xc3\xa9 HTTP/2"),
        ({"method": "GET", "path": "/\udcff"}, "GET /\xff HTTP/1.1"),
        ({}, "- / HTTP/1.1"),
    ],
    ids=["raw-target", "no-raw-path", "undecodable-path", "nothing-known"],
)
def test_request_line_from_the_scope(scope: dict[str, object], line: str) -> None:
    """The raw target when the server gives one, else the path as UTF-8; '-' and 1.1 if unknown."""
    assert request_line(scope) == line


def test_raw_target_is_logged_as_sent(tmp_path):
    """A percent-encoded path is logged as the client sent it, not decoded."""
    service, log = build(tmp_path)
    asyncio.run(call_asgi(service.app, "GET", b"/widgets/a%20b"))
    assert COMBINED.parse(lines(log)[0]).request_line == "GET /widgets/a%20b HTTP/1.1"


@pytest.mark.parametrize(
    ("peer", "host"),
    [(None, "-"), (("", 0), "-"), (("10.9.8.7", 1234), "10.9.8.7")],
    ids=["unix-socket", "empty-address", "address"],
)
def test_host_field_is_never_empty(tmp_path, peer, host):
    """%h is the peer's address, '-' when there is none (a Unix socket)."""
    service, log = build(tmp_path)
    asyncio.run(call_asgi(service.app, "GET", b"/widgets/1", client=peer))
    [line] = lines(log)
    assert line.startswith(f"{host} - - [")
    assert COMBINED.parse(line).final_status == 200


def test_duration_is_in_microseconds(tmp_path):
    """%D counts microseconds: a handler that sleeps 30 ms logs at least 30000."""
    service, log = build(tmp_path, "  access_log_format: extended")

    class Sleepy:
        async def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            await asyncio.sleep(0.03)

    service.add_route("/sleepy", Sleepy())
    client(service).simulate_get("/sleepy")
    assert 30_000 <= EXTENDED.parse(lines(log)[0]).directives["%D"] < 5_000_000
    access_log = AccessLog(LogFile("-", key="logging.access_log"), extended=True)
    request = testing.create_asgi_req(
        req_type=Request, path="/x", remote_addr="10.0.0.1", headers={"User-Agent": "probe"}
    )
    line = access_log.format(
        request, status=200, size=5, user=None, started=0.0, elapsed=2.5, request_id="r1"
    )
    assert line.endswith(' 200 5 "-" "probe" 2500000 r1\n')


@pytest.mark.parametrize(
    ("extended", "peer", "line"),
    [
        (False, ("10.0.0.9", 5555), '10.0.0.9 - - [{t}] "-" 400 11 "-" "-"\n'),
        (False, None, '- - - [{t}] "-" 431 - "-" "-"\n'),
        (False, ("", 0), '- - - [{t}] "-" 431 - "-" "-"\n'),
        (False, "/run/acme.sock", '- - - [{t}] "-" 431 - "-" "-"\n'),
        (True, ("10.0.0.9", 5555), '10.0.0.9 - - [{t}] "-" 400 11 "-" "-" 0 rid-9\n'),
    ],
    ids=["combined", "no-peer", "empty-address", "unix-socket-path", "extended"],
)
def test_refused_requests_log_a_line_without_request_line(tmp_path, extended, peer, line):
    """A request the HTTP parser refused logs its peer and status, '-' for all it never read."""
    kwargs = {"extended": True} if extended else {}
    access_log = AccessLog(LogFile("-", key="logging.access_log"), **kwargs)
    size = 11 if line.startswith("10.") else 0
    status = 400 if size else 431
    text = access_log.format_refused(
        peer, status=status, size=size, started=1_800_000_000, request_id="rid-9"
    )
    assert text == line.format(t=clf_time(1_800_000_000))
    parser = EXTENDED if extended else COMBINED
    assert parser.parse(text.rstrip("\n")).final_status == status


def test_buffered_lines_reach_the_file_at_flush(tmp_path):
    """Once the observer buffers (as in a worker), lines are written at flush, not before."""
    service, log = build(tmp_path)
    service.observer.buffer()
    client(service).simulate_get("/widgets/1")
    assert lines(log) == []
    service.observer.flush()
    assert COMBINED.parse(lines(log)[0]).final_status == 200


def test_a_request_falcon_refuses_before_middleware_is_still_observed(tmp_path):
    """Falcon's own 400 (before any middleware) keeps the client's id and is logged and counted."""
    service, log = build(tmp_path, "  access_log_format: extended")
    headers = {"Host": "x", "X-Request-Id": "rid-ws"}
    status, sent, _ = asyncio.run(call_asgi(service.app, "WEBSOCKET", b"/w", headers=headers))
    assert (status, sent[b"x-request-id"]) == (400, b"rid-ws")
    entry = EXTENDED.parse(lines(log)[0])
    assert (entry.final_status, entry.directives["%{X-Request-Id}o"]) == (400, "rid-ws")
    assert 0 <= entry.directives["%D"] < 5_000_000


def test_route_timer_and_access_log_time_the_same_interval(tmp_path):
    """The route timer (ms) and %D (us) of one request agree, so logs and metrics correlate."""
    service, log = build(tmp_path, "  access_log_format: extended")

    class Sleepy:
        async def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            await asyncio.sleep(0.02)

    service.add_route("/sleepy", Sleepy())
    client(service).simulate_get("/sleepy")
    micros = EXTENDED.parse(lines(log)[0]).directives["%D"]
    timer = service.metrics.snapshot()["timers"]["sleepy.GET"]
    assert timer["count"] == 1
    assert micros >= 20_000
    assert abs(timer["max"] * 1000 - micros) <= 2  # %D truncates; the timer rounds to 1 us


def test_parser_refusals_are_logged_and_counted(tmp_path):
    """A request the HTTP parser refused is one access-log line and one unmatched count."""
    service, log = build(tmp_path, "  access_log_format: extended")
    service.observer.refused(("10.0.0.9", 5555), 400, 11, "rid-9")
    line = lines(log)[0]
    assert line.startswith("10.0.0.9 - - [") and line.endswith('] "-" 400 11 "-" "-" 0 rid-9')
    snapshot = service.metrics.snapshot()
    assert snapshot["counters"]["unmatched.OTHER.400"] == 1
    assert snapshot["timers"]["unmatched.OTHER"]["max"] == 0.0


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_statuses_log_no_size(tmp_path, status):
    """A 204 or 304 sends no body, so %b is '-' even when the handler set one."""
    service, log = build(tmp_path)

    class Bodiless:
        async def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.status = status
            resp.data = b"ignored"

    service.add_route("/bodiless", Bodiless())
    result = client(service).simulate_get("/bodiless")
    assert (result.status_code, result.content) == (status, b"")
    assert COMBINED.parse(lines(log)[0]).bytes_sent is None


@pytest.mark.parametrize(
    ("length", "logged"), [(5, 5), (None, None)], ids=["declared-length", "unknown-length"]
)
def test_streamed_bodies_log_their_declared_length(tmp_path, length, logged):
    """A streamed body logs the Content-Length the service declared, else '-'."""
    service, log = build(tmp_path)

    class Streams:
        async def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            async def chunks() -> AsyncIterator[bytes]:
                yield b"hello"

            resp.stream = chunks()
            if length is not None:
                resp.content_length = length

    service.add_route("/stream", Streams())
    assert client(service).simulate_get("/stream").content == b"hello"
    assert COMBINED.parse(lines(log)[0]).bytes_sent == logged


def test_size_is_of_the_body_sent_when_text_and_data_are_both_set(tmp_path):
    """Falcon sends resp.text over resp.data; %b counts what it sent."""
    service, log = build(tmp_path)

    class Both:
        async def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            resp.text = "hello"
            resp.data = b"not sent at all"

    service.add_route("/both", Both())
    assert client(service).simulate_get("/both").content == b"hello"
    assert COMBINED.parse(lines(log)[0]).bytes_sent == 5
