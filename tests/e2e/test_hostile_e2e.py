"""Hostile clients on a real `scaffold run`: malformed HTTP and slow clients."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import apachelogs
import pytest
from serving import ServerProcess, request

pytestmark = pytest.mark.e2e

COMBINED = apachelogs.LogParser(apachelogs.COMBINED)


def send_raw(address: tuple[str, int], data: bytes, timeout: float = 10.0) -> bytes:
    """Send ``data`` on a fresh connection and read until the server closes it."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def use_access_log_file(root: Path) -> Path:
    config = root / "config.yml"
    log = root / "access.log"
    config.write_text(config.read_text().replace('access_log: "-"', f"access_log: {log}"))
    return log


MALFORMED = {
    "header-without-colon": (b"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400),
    "request-line-too-long": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "header-too-large": (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 10000 + b"\r\n\r\n", 431),
    "bad-chunk-size": (
        b"POST /v1/greetings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        400,
    ),
    "transfer-coding-not-chunked": (
        b"POST /v1/greetings HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        400,
    ),
    "control-character-in-target": (b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
}


def test_requests_the_parser_refuses_are_problems_and_logged(
    serve: Callable[..., ServerProcess], service_root: Path
) -> None:
    """gunicorn's parser refusals answer in problem+json with a request id, and reach the log."""
    log = use_access_log_file(service_root)
    server = serve("--workers", "1")
    assert server.app is not None
    for name, (data, status) in MALFORMED.items():
        answer = send_raw(server.app, data)
        head, _, body = answer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0].startswith(f"HTTP/1.1 {status} "), (name, lines[0])
        headers = dict(line.split(": ", 1) for line in lines[1:])
        assert headers["Content-Type"] == "application/problem+json", name
        problem = json.loads(body)
        assert problem["status"] == status
        assert problem["request_id"] == headers["X-Request-Id"]
    deadline = time.monotonic() + 5
    while len(log.read_text().splitlines()) < len(MALFORMED) and time.monotonic() < deadline:
        time.sleep(0.1)
    entries = [COMBINED.parse(line) for line in log.read_text().splitlines()]
    assert sorted(e.final_status for e in entries) == sorted(s for _, s in MALFORMED.values())
    assert all(e.request_line is None and e.remote_host == "127.0.0.1" for e in entries)


def test_slow_clients_delay_nobody(serve: Callable[..., ServerProcess]) -> None:
    """Forty connections dribbling a header byte a second leave other requests unhindered."""
    server = serve("--workers", "1")
    assert server.app is not None
    stop = threading.Event()
    sockets = []
    for _ in range(40):
        sock = socket.create_connection(server.app, timeout=10)
        sock.sendall(b"GET /v1/greetings/slow HTTP/1.1\r\nHost: x\r\n")
        sockets.append(sock)

    def dribble() -> None:
        while not stop.is_set():
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X")
            stop.wait(1.0)

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    try:
        time.sleep(1.5)
        for _ in range(5):
            started = time.monotonic()
            status, _, _ = request(server.app, "GET", "/v1/greetings/Ada", timeout=5)
            assert status == 200
            assert time.monotonic() - started < 0.5
    finally:
        stop.set()
        thread.join(5)
        for sock in sockets:
            sock.close()


def test_headers_that_never_end_get_408(serve: Callable[..., ServerProcess]) -> None:
    """A first request whose headers do not arrive within 10 s is answered 408 and closed."""
    server = serve("--workers", "1")
    assert server.app is not None
    started = time.monotonic()
    with socket.create_connection(server.app, timeout=20) as sock:
        sock.sendall(b"GET /v1/greetings/Ada HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["status"] == 408
    assert 9 < waited < 15
