"""The serving engine on a real `scaffold run`: plain handlers on the pool, shedding, --reload."""

from __future__ import annotations

import importlib.util
import json
import pstats
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from serving import ServerProcess, request

pytestmark = pytest.mark.e2e

SLOW_MODULE = '''"""Routes that hold a request for a while, for the engine tests."""

import threading
import time

from scaffold.runtime import typed

RELEASE = threading.Event()


class Blocking:
    """A plain handler that blocks its thread (as a database driver would)."""

    def on_get(self, req, resp):
        RELEASE.wait(float(req.get_param("seconds", default="10")))
        resp.media = {"blocked": True}


class Release:
    async def on_post(self, req, resp):
        RELEASE.set()
        resp.media = {"released": True}


class Sleepy:
    @typed()
    def on_get(self, req, resp):
        time.sleep(float(req.get_param("seconds", default="0.5")))
        return {"slept": True}
'''


def add_slow_routes(root: Path) -> None:
    """Give the rendered service /test/block, /test/release and /test/sleep."""
    package = root / "acme_widgets"
    (package / "slow.py").write_text(SLOW_MODULE)
    app = package / "app.py"
    text = app.read_text()
    assert text.count("    return service\n") == 1, text
    text = text.replace(
        "    return service\n",
        "    from acme_widgets.slow import Blocking, Release, Sleepy\n\n"
        '    service.add_route("/test/block", Blocking())\n'
        '    service.add_route("/test/release", Release())\n'
        '    service.add_route("/test/sleep", Sleepy())\n'
        "    return service\n",
    )
    app.write_text(text)


def set_server_key(root: Path, key: str, value: str) -> None:
    config = root / "config.yml"
    text = config.read_text()
    marker = f"  {key}: "
    start = text.index(marker)
    end = text.index("\n", start)
    config.write_text(text[:start] + marker + value + text[end:])


def background_get(
    address: tuple[str, int], path: str, out: list[tuple[float, int]]
) -> threading.Thread:
    def run() -> None:
        status, _, _ = request(address, "GET", path, timeout=30)
        out.append((time.monotonic(), status))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_blocking_plain_handler_never_stalls_the_worker(
    serve: Callable[..., ServerProcess], service_root: Path
) -> None:
    """With one worker, a plain handler blocked on its thread leaves the loop serving others."""
    add_slow_routes(service_root)
    server = serve("--workers", "1")
    done: list[tuple[float, int]] = []
    blocked = background_get(server.app, "/test/block?seconds=20", done)
    time.sleep(0.3)  # let it reach its thread
    for _ in range(5):
        status, _, body = request(server.app, "GET", "/v1/greetings/Ada")
        assert (status, json.loads(body)["greeting"]) == (200, "Hello, Ada!")
    assert request(server.admin, "GET", "/ping")[0] == 200
    assert done == []  # still blocked while the others were served
    assert request(server.app, "POST", "/test/release")[0] == 200
    blocked.join(10)
    assert [status for _, status in done] == [200]


def test_plain_handlers_run_server_threads_at_once(
    serve: Callable[..., ServerProcess], service_root: Path
) -> None:
    """server.threads plain handlers of one worker run at the same time, not one by one."""
    add_slow_routes(service_root)
    set_server_key(service_root, "threads", "4")
    server = serve("--workers", "1")
    done: list[tuple[float, int]] = []
    started = time.monotonic()
    threads = [background_get(server.app, "/test/sleep?seconds=1", done) for _ in range(4)]
    for thread in threads:
        thread.join(20)
    assert [status for _, status in done] == [200] * 4
    # One by one would take 4 s; together they take about 1 s.
    assert max(t for t, _ in done) - started < 3.0


def test_the_worker_parses_http_with_gunicorns_c_parser(
    serve: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    """With gunicorn_h1c installed (the `speedups` extra), requests go through its C parser.

    A profile of the worker under traffic holds the protocol's callback for each parsed
    request and nothing of gunicorn's pure-Python parser, which serves only without it.
    """
    assert importlib.util.find_spec("gunicorn_h1c"), "the test extra installs the speedups extra"
    server = serve("--workers", "1")
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            request(server.app, "GET", "/v1/greetings/Ada")

    client = threading.Thread(target=traffic)
    client.start()
    try:
        status, _, body = request(server.admin, "POST", "/tasks/profile?seconds=1")
    finally:
        stop.set()
        client.join()
    assert status == 200, body
    path = tmp_path / "worker.pstats"
    path.write_bytes(body)
    functions = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    called = {(Path(file).parent.name, Path(file).name, name) for file, _, name in functions}
    assert ("server", "_worker.py", "Protocol._on_headers_complete") in called
    python_parser = sorted(name for _, file, name in called if name.startswith("PythonProtocol"))
    assert python_parser == []


def test_max_in_flight_sheds_with_503(
    serve: Callable[..., ServerProcess], service_root: Path
) -> None:
    """Beyond server.max_in_flight requests in a worker, the next gets 503 + Retry-After."""
    add_slow_routes(service_root)
    set_server_key(service_root, "max_in_flight", "1")
    server = serve("--workers", "1")
    done: list[tuple[float, int]] = []
    blocked = background_get(server.app, "/test/block?seconds=3", done)
    time.sleep(0.3)
    status, headers, body = request(server.app, "GET", "/v1/greetings/Ada")
    assert status == 503
    assert headers["retry-after"] == "1"
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["status"] == 503
    assert request(server.admin, "GET", "/health/live")[0] == 200  # the admin port is not shed
    assert done == []
    blocked.join(20)  # the handler gives up waiting after 3 s and answers
    assert [status for _, status in done] == [200]
    assert request(server.app, "GET", "/v1/greetings/Ada")[0] == 200


def test_reload_option_serves_edited_code(
    serve: Callable[..., ServerProcess], service_root: Path
) -> None:
    """`scaffold run --reload` replaces the worker when a source file changes, at once."""
    server = serve("--workers", "1", "--reload")
    assert (
        json.loads(request(server.app, "GET", "/v1/greetings/Ada")[2])["greeting"] == "Hello, Ada!"
    )
    # The master took the files' times before the worker started: an edit right away counts.
    greetings = service_root / "acme_widgets" / "greetings.py"
    source = greetings.read_text()
    assert '"Hello, {name}!"' in source
    greetings.write_text(source.replace('"Hello, {name}!"', '"Hi, {name}!"'))
    deadline = time.monotonic() + 20
    greeting = None
    while time.monotonic() < deadline:
        try:
            greeting = json.loads(request(server.app, "GET", "/v1/greetings/Ada")[2])["greeting"]
        except (OSError, ValueError):
            greeting = None
        if greeting == "Hi, Ada!":
            break
        time.sleep(0.2)
    assert greeting == "Hi, Ada!"
