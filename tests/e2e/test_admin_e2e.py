"""The admin port, access log rotation, statsd and draining on a real `scaffold run`."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import apachelogs
import pytest
from serving import request

from scaffold.runtime.testing import StatsdCapture

pytestmark = pytest.mark.e2e

COMBINED = apachelogs.LogParser(apachelogs.COMBINED)


def write_config(
    root: Path, *, statsd_port: int | None = None, drain: float = 0, workers: int = 2
) -> Path:
    statsd = (
        f"metrics:\n  statsd:\n    host: 127.0.0.1\n    port: {statsd_port}\n    prefix: e2e\n"
        if statsd_port
        else ""
    )
    path = root / "e2e.yml"
    path.write_text(
        f"server:\n  workers: {workers}\n  threads: 2\n  drain_seconds: {drain}\n  graceful_timeout: 5\n"
        f"logging:\n  access_log: {root / 'access.log'}\n{statsd}"
        "app:\n  default_language: en\n"
    )
    return path


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def test_admin_endpoints(serve, service_root):
    """Every admin endpoint answers on the admin port of a real gunicorn; statsd gets metrics."""
    with StatsdCapture() as statsd:
        write_config(service_root, statsd_port=statsd.port)
        server = serve("--config", "e2e.yml")
        app, admin = server.app, server.admin
        for _ in range(4):
            assert request(app, "GET", "/v1/greetings/Ada")[0] == 200
        assert request(app, "GET", "/no/such/path")[0] == 404

        status, headers, body = request(admin, "GET", "/ping")
        assert (status, body) == (200, b"pong")
        status, _, body = request(admin, "GET", "/healthcheck")
        assert status == 200
        assert json.loads(body)["app"]["healthy"] is True
        assert request(admin, "GET", "/health/live")[0] == 200
        assert request(admin, "GET", "/health/ready")[0] == 200

        status, _, body = request(admin, "GET", "/metrics")
        metrics = json.loads(body)
        assert status == 200
        assert isinstance(metrics["pid"], int) and metrics["pid"] != server.pid
        assert set(metrics) >= {"counters", "gauges", "timers"}

        status, headers, body = request(admin, "GET", "/threads")
        assert status == 200 and headers["content-type"].startswith("text/plain")
        assert b"MainThread" in body

        status, _, body = request(admin, "GET", "/tasks")
        assert [t["name"] for t in json.loads(body)["tasks"]] == ["gc", "log-level", "profile"]
        assert request(admin, "POST", "/tasks/gc")[0] == 200
        status, _, body = request(
            admin, "POST", "/tasks/log-level?logger=acme_widgets&level=DEBUG&duration=5"
        )
        assert status == 200 and json.loads(body)["result"]["level"] == "DEBUG"
        status, headers, _ = request(admin, "GET", "/tasks/gc")
        assert status == 405 and headers["content-type"] == "application/problem+json"
        assert request(admin, "POST", "/tasks/nope")[0] == 404

        statsd.wait_for(10, timeout=5)
        assert statsd.counters() == {
            "e2e.v1.greetings.name.GET.200": 4,
            "e2e.unmatched.GET.404": 1,
        }

    # The admin port is not in the access log; the app port's lines parse as combined. The
    # worker writes what it buffered at least once a second.
    log = service_root / "access.log"
    assert wait_until(lambda: len(log.read_text().splitlines()) >= 5, timeout=5)
    entries = [COMBINED.parse(line) for line in log.read_text().splitlines()]
    # Each worker buffers its own lines, so lines of two workers need not be in time order.
    assert (
        sorted((e.request_line, e.final_status) for e in entries)
        == [("GET /no/such/path HTTP/1.1", 404)] + [("GET /v1/greetings/Ada HTTP/1.1", 200)] * 4
    )


def test_usr1_reopens_the_access_log(serve, service_root):
    """After logrotate renames the file, USR1 makes the worker write to a new one."""
    # One worker: once it has answered, it has opened the file (a second worker still
    # booting after the rename would open a fresh file and hide a broken reopen).
    write_config(service_root, workers=1)
    server = serve("--config", "e2e.yml")
    log = service_root / "access.log"
    assert request(server.app, "GET", "/v1/greetings/before")[0] == 200
    assert wait_until(lambda: log.exists() and "before" in log.read_text())
    rotated = service_root / "access.log.1"
    log.rename(rotated)
    server.signal(signal.SIGUSR1)

    def new_file_gets_lines() -> bool:
        request(server.app, "GET", "/v1/greetings/after")
        return log.exists() and "/after" in log.read_text()

    assert wait_until(new_file_gets_lines, timeout=10, interval=0.1)
    for line in log.read_text().splitlines():
        assert COMBINED.parse(line).final_status == 200
    assert "/before" in rotated.read_text()


def test_sigterm_drains_then_stops(serve, service_root):
    """With drain_seconds, SIGTERM first fails readiness while still serving, then exits."""
    write_config(service_root, drain=2)
    server = serve("--config", "e2e.yml")
    assert request(server.admin, "GET", "/health/ready")[0] == 200
    sent = time.monotonic()
    server.signal(signal.SIGTERM)
    assert wait_until(lambda: request(server.admin, "GET", "/health/ready")[0] == 503, timeout=1.5)
    assert request(server.app, "GET", "/v1/greetings/Ada")[0] == 200
    status, _, body = request(server.admin, "GET", "/health/ready")
    assert status == 503 and json.loads(body)["reason"] == "draining"
    assert server.proc is not None
    server.proc.wait(15)
    assert time.monotonic() - sent >= 2
    assert "draining" in server.output
