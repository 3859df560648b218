"""Managed objects, guards and virtual hosts on a real `scaffold run` with two workers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from serving import ServerProcess, request

pytestmark = pytest.mark.e2e

ADDITIONS = '''

import os
import pathlib

import falcon


class Lifecycle:
    """Writes when it starts and stops, with the pid of the process doing it."""

    def __init__(self, path: str) -> None:
        self.path = pathlib.Path(path)

    def start(self) -> None:
        if os.environ.get("ACME_FAIL_START"):
            raise ConnectionError("database down")
        with self.path.open("a") as log:
            log.write(f"start {os.getpid()}\\n")

    async def stop(self) -> None:
        with self.path.open("a") as log:
            log.write(f"stop {os.getpid()}\\n")


def token(req) -> dict[str, str]:
    if req.get_header("X-Token") != "s3cret":
        raise falcon.HTTPForbidden(description="A valid X-Token is required.")
    return {"X-Checked-By": "token"}


class ApiGreeting:
    async def on_get(self, req, resp, name: str) -> None:
        resp.media = {"greeting": f"Hello from the API host, {name}!"}


_create = create_service


def create_service(config: Config) -> Service:
    service = _create(config)
    service.manage(Lifecycle(os.environ["ACME_LIFECYCLE_LOG"]))
    service.host("api.example.com").add_route("/v1/greetings/{name}", ApiGreeting())
    private = service.namespace("/private")
    private.guard(token)
    private.add_route("/greetings/{name}", ApiGreeting())
    return service
'''


@pytest.fixture
def composed(service_root: Path) -> Path:
    app = service_root / "acme_widgets" / "app.py"
    app.write_text(app.read_text() + ADDITIONS)
    return service_root / "lifecycle.log"


def test_managed_objects_start_and_stop_once_per_worker(
    serve: Callable[..., ServerProcess], composed: Path
) -> None:
    """start() in each worker before it serves, stop() after; never in the master."""
    server = serve("--workers", "2", env={"ACME_LIFECYCLE_LOG": str(composed)})
    assert server.app is not None
    deadline = time.monotonic() + 20
    while not composed.exists() or composed.read_text().count("start") < 2:
        assert time.monotonic() < deadline, server.output
        time.sleep(0.05)
    assert request(server.app, "GET", "/v1/greetings/Ada")[0] == 200
    assert server.stop() == 0
    lines = composed.read_text().splitlines()
    starts = [int(line.split()[1]) for line in lines if line.startswith("start")]
    stops = [int(line.split()[1]) for line in lines if line.startswith("stop")]
    assert len(starts) == 2 and len(set(starts)) == 2, lines
    assert sorted(stops) == sorted(starts), lines
    assert server.pid not in starts


def test_a_failing_start_stops_scaffold_run_with_one_line(
    serve: Callable[..., ServerProcess], composed: Path
) -> None:
    server = serve(
        "--workers", "1", env={"ACME_LIFECYCLE_LOG": str(composed), "ACME_FAIL_START": "1"}
    )
    assert server.proc is not None
    assert server.proc.wait(30) == 1
    server.stop()
    line = "Error: acme_widgets.app.Lifecycle.start() failed: ConnectionError: database down"
    assert server.output.count(line) >= 1, server.output
    assert not composed.exists()


def test_guards_and_virtual_hosts_over_http(
    serve: Callable[..., ServerProcess], composed: Path
) -> None:
    server = serve("--workers", "1", env={"ACME_LIFECYCLE_LOG": str(composed)})
    assert server.app is not None
    status, headers, body = request(server.app, "GET", "/private/greetings/Ada")
    assert status == 403
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["detail"] == "A valid X-Token is required."
    status, headers, body = request(
        server.app, "GET", "/private/greetings/Ada", headers={"X-Token": "s3cret"}
    )
    assert status == 200 and headers["x-checked-by"] == "token"
    api = {"Host": "API.example.com:8080"}
    status, _, body = request(server.app, "GET", "/v1/greetings/Ada", headers=api)
    assert status == 200
    assert json.loads(body) == {"greeting": "Hello from the API host, Ada!"}
    status, _, body = request(server.app, "GET", "/v1/greetings/Ada")
    assert json.loads(body)["greeting"] == "Hello, Ada!"
