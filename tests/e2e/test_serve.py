"""`scaffold run` end to end: a real gunicorn master, real sockets, real signals."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from serving import BIN, ServerProcess, free_port, request

pytestmark = pytest.mark.e2e


def test_serves_the_app_and_the_admin_port(serve: Callable[..., ServerProcess]) -> None:
    """The greeting API answers on the app port, ping on the admin port."""
    server = serve("--workers", "1")
    status, headers, body = request(server.app, "GET", "/v1/greetings/Ada")
    assert status == 200
    assert json.loads(body) == {"greeting": "Hello, Ada!", "language": "en"}
    assert headers["x-request-id"]
    status, _, body = request(
        server.app,
        "POST",
        "/v1/greetings",
        body=b'{"name": "Ada", "language": "fr"}',
        headers={"Content-Type": "application/json"},
    )
    assert (status, json.loads(body)) == (201, {"greeting": "Bonjour, Ada!", "language": "fr"})
    status, headers, body = request(server.admin, "GET", "/ping")
    assert (status, body) == (200, b"pong")
    assert headers["content-type"].startswith("text/plain")
    status, _, body = request(server.admin, "GET", "/healthcheck")
    assert status == 200
    assert json.loads(body)["app"]["healthy"] is True


def test_ports_are_chosen_by_socket_not_host_header(serve: Callable[..., ServerProcess]) -> None:
    """A Host header naming the other port changes nothing: the accepting socket decides."""
    server = serve("--workers", "1")
    assert server.admin is not None and server.app is not None
    admin_host = {"Host": f"{server.admin[0]}:{server.admin[1]}"}
    app_host = {"Host": f"{server.app[0]}:{server.app[1]}"}
    status, headers, _ = request(server.app, "GET", "/ping", headers=admin_host)
    assert status == 404
    assert headers["content-type"] == "application/problem+json"
    status, _, _ = request(server.admin, "GET", "/v1/greetings/Ada", headers=app_host)
    assert status == 404


def test_startup_prints_addresses_and_routes(serve: Callable[..., ServerProcess]) -> None:
    """The master logs where it listens and the route table."""
    server = serve("--workers", "1")
    assert "/v1/greetings/{name}" in server.output
    assert "GET HEAD OPTIONS" in server.output
    assert "acme_widgets.resources.GreetingItem" in server.output


def test_workers_option(serve: Callable[..., ServerProcess]) -> None:
    """--workers overrides server.workers."""
    server = serve("--workers", "3")
    deadline = time.monotonic() + 15
    while server.output.count("Booting worker") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert server.output.count("Booting worker") == 3


def test_chunked_body_over_the_limit_is_413(serve: Callable[..., ServerProcess]) -> None:
    """A chunked body larger than server.max_body_bytes (1 MiB) is refused with 413."""
    server = serve("--workers", "1")
    payload = json.dumps({"name": "x" * (1024 * 1024 + 10)}).encode()
    conn = http.client.HTTPConnection(*server.app, timeout=15)
    try:
        conn.putrequest("POST", "/v1/greetings")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for start in range(0, len(payload), 65536):
            chunk = payload[start : start + 65536]
            try:
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
        else:
            conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["status"] == 413
    finally:
        conn.close()


def test_small_chunked_body_is_served(serve: Callable[..., ServerProcess]) -> None:
    """A small chunked body is read to its end."""
    server = serve("--workers", "1")
    conn = http.client.HTTPConnection(*server.app, timeout=10)
    try:
        conn.request(
            "POST",
            "/v1/greetings",
            body=iter([b'{"name": ', b'"Ada"}']),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        assert response.status == 201
        assert json.loads(response.read())["greeting"] == "Hello, Ada!"
    finally:
        conn.close()


class Hammer:
    """Sends GETs on fresh connections from a thread until stopped; records every outcome."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.greetings: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, _, body = request(self.address, "GET", "/v1/greetings/Ada", timeout=10)
            except OSError as ex:
                self.failures.append(repr(ex))
                continue
            if status != 200:
                self.failures.append(f"{status} {body[:200]!r}")
            else:
                self.greetings.append(json.loads(body)["greeting"])

    def __enter__(self) -> Hammer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)

    def wait_for(self, greeting: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while greeting not in self.greetings[-20:]:
            if time.monotonic() > deadline:
                pytest.fail(f"never saw {greeting!r}; last: {self.greetings[-3:]}")
            time.sleep(0.05)


def test_sighup_rereads_config_without_failed_requests(
    serve: Callable[..., ServerProcess], service_root: Path
) -> None:
    """HUP re-reads config.yml and swaps workers while four clients keep succeeding."""
    server = serve("--workers", "2")
    hammers = [Hammer(server.app) for _ in range(4)]
    for hammer in hammers:
        hammer.__enter__()
    try:
        for hammer in hammers:
            hammer.wait_for("Hello, Ada!")
        config = service_root / "config.yml"
        config.write_text(
            config.read_text().replace("default_language: en", "default_language: fr")
        )
        server.signal(signal.SIGHUP)
        for hammer in hammers:
            hammer.wait_for("Bonjour, Ada!")
        time.sleep(1.0)  # keep load on while the old workers retire
    finally:
        for hammer in hammers:
            hammer.__exit__()
    assert [hammer.failures for hammer in hammers] == [[]] * 4
    assert all(len(hammer.greetings) > 20 for hammer in hammers)
    assert all(hammer.greetings[-1] == "Bonjour, Ada!" for hammer in hammers)
    assert "config reloaded" in server.output


def test_sighup_with_a_broken_config_keeps_serving(
    serve: Callable[..., ServerProcess], service_root: Path
) -> None:
    """A reload with an invalid config is refused and logged; the old config keeps serving."""
    server = serve("--workers", "1")
    config = service_root / "config.yml"
    config.write_text(config.read_text().replace("threads: 4", "threads: 0"))
    server.signal(signal.SIGHUP)
    server.wait_for_output("reload refused")
    assert "server.threads: must be >= 1" in server.output
    status, _, _ = request(server.app, "GET", "/v1/greetings/Ada")
    assert status == 200
    assert server.proc is not None and server.proc.poll() is None


def test_sighup_moves_listeners_and_keeps_ports_apart(
    serve: Callable[..., ServerProcess], service_root: Path
) -> None:
    """A reload that changes server.bind and admin_bind rebinds, and the new sockets are told apart."""
    config = service_root / "config.yml"
    old_app, old_admin, new_app, new_admin = (free_port() for _ in range(4))
    text = config.read_text()
    text = text.replace("127.0.0.1:8080}", f"127.0.0.1:{old_app}}}").replace(
        "127.0.0.1:8081}", f"127.0.0.1:{old_admin}}}"
    )
    config.write_text(text)
    server = serve("--workers", "1", os_ports=False)
    assert server.app == ("127.0.0.1", old_app)
    config.write_text(
        text.replace(f":{old_app}}}", f":{new_app}}}").replace(f":{old_admin}}}", f":{new_admin}}}")
    )
    server.signal(signal.SIGHUP)
    server.wait_for_output(f"admin listening on http://127.0.0.1:{new_admin}")
    app, admin = ("127.0.0.1", new_app), ("127.0.0.1", new_admin)
    deadline = time.monotonic() + 20
    while True:  # new workers take a moment to boot
        try:
            status, _, body = request(admin, "GET", "/ping")
            break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert (status, body) == (200, b"pong")
    assert request(app, "GET", "/v1/greetings/Ada")[0] == 200
    assert request(app, "GET", "/ping")[0] == 404
    assert request(admin, "GET", "/v1/greetings/Ada")[0] == 404
    with pytest.raises(ConnectionRefusedError):
        request(("127.0.0.1", old_app), "GET", "/v1/greetings/Ada", timeout=2)


def test_sigterm_exits_cleanly_after_in_flight_requests(
    serve: Callable[..., ServerProcess],
) -> None:
    """SIGTERM lets the master and workers exit with status 0."""
    server = serve("--workers", "2")
    assert request(server.app, "GET", "/v1/greetings/Ada")[0] == 200
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 15
    assert "Shutting down" in server.output
    assert "Traceback" not in server.output


def test_sigterm_while_workers_boot_stops_them_at_once(
    serve: Callable[..., ServerProcess],
) -> None:
    """A TERM that reaches workers before their handlers are set is not lost.

    The master announces its listeners before the workers boot; a TERM sent then used to
    reach a booting worker through the master's inherited handler and vanish, leaving it
    to be killed graceful_timeout (30 s) later.
    """
    server = serve("--workers", "4")
    started = time.monotonic()
    assert server.stop(timeout=25) == 0
    assert time.monotonic() - started < 15
    assert "Traceback" not in server.output


def run_failing(service_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `scaffold run ARGS` expecting it to stop before serving."""
    return subprocess.run(
        [str(BIN / "scaffold"), "run", *args],
        cwd=service_root,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_invalid_config_fails_before_binding(service_root: Path) -> None:
    """A broken config stops `scaffold run` at once with the problem, not a traceback."""
    config = service_root / "config.yml"
    config.write_text(config.read_text().replace("threads: 4", "threads: zero"))
    result = run_failing(service_root, "--bind", "127.0.0.1:0", "--admin-bind", "127.0.0.1:0")
    assert result.returncode == 1
    assert result.stderr.strip() == "server.threads: not a valid integer"


def test_invalid_bind_option(service_root: Path) -> None:
    """A malformed --bind is reported as the option's problem."""
    result = run_failing(service_root, "--bind", "localhost")
    assert result.returncode == 1
    assert result.stderr.strip() == "--bind: 'localhost' is not HOST:PORT, [IPv6]:PORT or unix:PATH"


def test_a_taken_port_fails_at_once_naming_it(service_root: Path) -> None:
    """A port another process listens on ends `scaffold run` in one line, without retries."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = run_failing(
            service_root, "--bind", f"127.0.0.1:{port}", "--admin-bind", "127.0.0.1:0"
        )
        waited = time.monotonic() - started
    assert result.returncode == 1
    assert result.stderr == (
        f"server.bind: cannot listen on 127.0.0.1:{port}: address already in use\n"
    )
    assert waited < 5  # gunicorn alone retries for five seconds


def test_a_socket_in_a_missing_folder_fails_at_once(service_root: Path, tmp_path: Path) -> None:
    """A unix socket path whose folder does not exist is named, with the folder."""
    path = tmp_path / "no" / "such" / "app.sock"
    result = run_failing(service_root, "--admin-bind", f"unix:{path}", "--bind", "127.0.0.1:0")
    assert result.returncode == 1
    assert result.stderr == (
        f"server.admin_bind: cannot listen on unix:{path}: no such folder {path.parent}\n"
    )
