"""`scaffold run --reload`: one worker, reloads on code and config saves, survives mistakes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from serving import ServerProcess, request

pytestmark = pytest.mark.e2e


def answer(server: ServerProcess, path: str = "/v1/greetings/Ada") -> tuple[int, dict]:
    assert server.app is not None
    status, _, body = request(server.app, "GET", path)
    return status, json.loads(body)


def wait_for(server: ServerProcess, check: Callable[[int, dict], bool], timeout: float = 20):
    """Poll the greeting until ``check(status, body)`` holds; return the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, body = answer(server)
        except (OSError, ValueError):
            status, body = 0, {}
        if check(status, body):
            return status, body
        if time.monotonic() > deadline:
            pytest.fail(f"never got there; last {status} {body}\n{server.output}")
        time.sleep(0.1)


def test_reload_is_one_worker_and_says_it_is_for_development(
    serve: Callable[..., ServerProcess],
) -> None:
    """The warning at start names the files watched; one worker serves every request."""
    server = serve("--reload")
    assert "--reload is for development: 1 worker, reloaded whenever acme_widgets or " in (
        server.output
    )
    assert server.admin is not None
    pids = {json.loads(request(server.admin, "GET", "/metrics")[2])["pid"] for _ in range(6)}
    assert len(pids) == 1
    assert server.output.count("Booting worker") == 1


def test_a_broken_save_keeps_the_server_up_until_the_next_good_one(
    serve: Callable[..., ServerProcess], service_root: Path
) -> None:
    """A syntax error, then an import error: reported in one block, 500 problems, then fixed."""
    server = serve("--reload")
    resources = service_root / "acme_widgets" / "resources.py"
    good = resources.read_text()
    resources.write_text(good + "\ndef broken(:\n")
    _, body = wait_for(server, lambda status, body: status == 500)
    assert body["title"] == "Internal Server Error"
    assert body["detail"].startswith("The service failed to load: importing acme_widgets.app")
    assert "SyntaxError" in body["detail"]
    server.wait_for_output("def broken(:")
    assert "the service failed to load; fix it and save, the server keeps running:" in (
        server.output
    )
    assert server.proc is not None and server.proc.poll() is None  # the master is still up
    resources.write_text("import acme_widgets.no_such_module\n" + good)
    missing = "No module named 'acme_widgets.no_such_module'"
    wait_for(server, lambda status, body: missing in body.get("detail", ""))
    greetings = service_root / "acme_widgets" / "greetings.py"
    greetings.write_text(greetings.read_text().replace('"Hello, {name}!"', '"Fixed, {name}!"'))
    resources.write_text(good)
    _, body = wait_for(server, lambda status, body: status == 200)
    assert body["greeting"] == "Fixed, Ada!"
    assert server.stop() == 0


def test_a_config_save_is_picked_up(
    serve: Callable[..., ServerProcess], service_root: Path
) -> None:
    """Editing config.yml reloads it (the app section here) without a restart."""
    server = serve("--reload")
    assert answer(server)[1]["language"] == "en"
    config = service_root / "config.yml"
    config.write_text(config.read_text().replace("default_language: en", "default_language: fr"))
    _, body = wait_for(server, lambda status, body: body.get("language") == "fr")
    assert body["greeting"] == "Bonjour, Ada!"
    server.wait_for_output("config.yml changed: reloading")


def test_starting_with_broken_code_serves_its_error_until_fixed(
    serve: Callable[..., ServerProcess], service_root: Path
) -> None:
    """Even a first start with a broken file keeps the master up in the development loop."""
    resources = service_root / "acme_widgets" / "resources.py"
    good = resources.read_text()
    resources.write_text(good + "\ndef broken(:\n")
    server = serve("--reload")
    assert answer(server)[0] == 500
    resources.write_text(good)
    wait_for(server, lambda status, body: status == 200)


def test_without_reload_a_broken_service_still_stops_scaffold_run(
    serve: Callable[..., ServerProcess], service_root: Path
) -> None:
    """Production keeps failing fast: a broken service is exit 1 with one line."""
    resources = service_root / "acme_widgets" / "resources.py"
    resources.write_text(resources.read_text() + "\ndef broken(:\n")
    server = serve()  # returns when the output ends: the master exited
    assert server.proc is not None and server.proc.wait(10) == 1
    assert server.app is None
    assert "Error: importing acme_widgets.app raised SyntaxError" in server.output
