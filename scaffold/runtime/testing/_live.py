"""A real ``scaffold run`` for tests: a gunicorn master on OS-chosen ports, stopped by its pid."""

from __future__ import annotations

import http.client
import json as _json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import yaml

from scaffold.runtime.config import Config

LISTENING = re.compile(r"(app|admin) listening on (https?)://(\[[0-9a-fA-F:.]+\]|[\d.]+):(\d+)")
"""The lines ``scaffold run`` logs once a listener is open."""
START_SECONDS = 30.0
STOP_SECONDS = 20.0


@dataclass(frozen=True)
class LiveResponse:
    """An answer of a :class:`LiveServer`.

    Attributes:
        status: The status code.
        headers: The response headers, names in lower case.
        body: The raw body.
    """

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return _json.loads(self.body)


class LiveServer:
    """``scaffold run`` of a service folder in a child process, its output collected.

    :meth:`start` returns once the app and admin listeners are open, or once the process
    ended (:attr:`ready` tells which); :meth:`stop` sends SIGTERM to that one pid, then
    SIGKILL if it has not exited in time. The ``live_server`` fixture is one, started on
    ``127.0.0.1:0`` with the test's config and one worker.

    Args:
        root: The service folder (``scaffold run`` runs there).
        *args: Options of ``scaffold run`` (``--config``, ``--bind``, ``--workers`` ...).
        env: The child's environment (default: this process's).
        headers: Sent with every :meth:`request` (the ``live_server`` fixture gives the
            test user's credentials when the config turns Basic auth on).
        python: The interpreter that runs ``python -m scaffold run`` (default: this one).
    """

    def __init__(
        self,
        root: str | Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        python: str = sys.executable,
    ) -> None:
        self.root = Path(root)
        self.args = args
        self.env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
        self.headers = dict(headers or {})
        self.command = [python, "-m", "scaffold", "run", *args]
        self.lines: list[str] = []
        self.app_address: tuple[str, int] | None = None
        self.admin_address: tuple[str, int] | None = None
        self.proc: subprocess.Popen[str] | None = None
        self._schemes = {"app": "http", "admin": "http"}
        self._listening = threading.Event()
        self._reader: threading.Thread | None = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        """The master's process id."""
        return self._process().pid

    @property
    def output(self) -> str:
        """Everything the master and its workers wrote so far (stdout and stderr)."""
        return "".join(self.lines)

    @property
    def ready(self) -> bool:
        """Whether both listeners are open (the process may have exited since)."""
        return self.app_address is not None and self.admin_address is not None

    @property
    def url(self) -> str:
        """The app port's base URL, e.g. ``http://127.0.0.1:41234``."""
        return self._url("app", self.app_address)

    @property
    def admin_url(self) -> str:
        """The admin port's base URL."""
        return self._url("admin", self.admin_address)

    def start(self, timeout: float = START_SECONDS) -> Self:
        """Start the master; return once it listens or has exited.

        Raises:
            TimeoutError: Neither happened within ``timeout`` seconds (the master is stopped).
        """
        self.proc = subprocess.Popen(
            self.command,
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._listening.wait(timeout):
            self.stop()
            msg = f"scaffold run did not start within {timeout}s:\n{self.output}"
            raise TimeoutError(msg)
        return self

    def stop(self, timeout: float = STOP_SECONDS) -> int:
        """SIGTERM the master; SIGKILL it if it does not exit in time. Returns its exit code."""
        proc = self._process()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self._reader is not None:
            self._reader.join(5)
        if proc.stdout is not None:
            proc.stdout.close()
        return proc.returncode

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the master."""
        os.kill(self.pid, signum)

    def wait_for_output(self, text: str, timeout: float = 20.0) -> None:
        """Wait until ``text`` appears in :attr:`output`.

        Raises:
            AssertionError: It did not within ``timeout`` seconds (shows the output).
        """
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline:
                msg = f"{text!r} never appeared in:\n{self.output}"
                raise AssertionError(msg)
            time.sleep(0.05)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        admin: bool = False,
        timeout: float = 10.0,
        context: ssl.SSLContext | None = None,
    ) -> LiveResponse:
        """Make one request on a fresh connection (``http.client``) and read the answer.

        Args:
            method: ``GET``, ``POST`` ...
            path: The request target, e.g. ``/v1/greetings/Ada?x=1``.
            json: A body to send as JSON (``Content-Type: application/json``).
            body: A raw body instead.
            headers: Added to (or replacing) :attr:`headers` for this request.
            admin: Ask the admin port instead of the app port.
            timeout: Seconds for the connection and each read.
            context: The TLS context for an ``https`` listener.
        """
        port = "admin" if admin else "app"
        address = self.admin_address if admin else self.app_address
        if address is None:
            msg = f"the {port} listener is not open:\n{self.output}"
            raise RuntimeError(msg)
        sent = {**self.headers, **(headers or {})}
        if json is not None:
            body = _json.dumps(json).encode()
            sent.setdefault("Content-Type", "application/json")
        host = address[0].strip("[]")
        conn: http.client.HTTPConnection
        if self._schemes[port] == "https":
            conn = http.client.HTTPSConnection(host, address[1], timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(host, address[1], timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
            received = {name.lower(): value for name, value in response.getheaders()}
            return LiveResponse(response.status, received, data)
        finally:
            conn.close()

    def _read(self) -> None:
        stdout = self._process().stdout
        assert stdout is not None  # Popen(stdout=PIPE)
        for line in stdout:
            self.lines.append(line)
            match = LISTENING.search(line)
            if match:
                port, scheme, host, number = match.groups()
                self._schemes[port] = scheme
                if port == "app":
                    self.app_address = (host, int(number))
                else:
                    self.admin_address = (host, int(number))
                if self.ready:
                    self._listening.set()
        self._listening.set()  # the process ended: start() returns, not ready

    def _process(self) -> subprocess.Popen[str]:
        if self.proc is None:
            msg = "the server is not started; call start()"
            raise RuntimeError(msg)
        return self.proc

    def _url(self, port: str, address: tuple[str, int] | None) -> str:
        if address is None:
            msg = f"the {port} listener is not open:\n{self.output}"
            raise RuntimeError(msg)
        return f"{self._schemes[port]}://{address[0]}:{address[1]}"


def write_config(config: Config, path: str | Path) -> Path:
    """Write ``config`` as a YAML file ``scaffold run --config`` reads back the same.

    Secrets are written as they are (the file is the test's own, under its ``tmp_path``),
    and a literal ``${`` is escaped as ``$${`` so it is not substituted again.
    """
    data = config.effective(mask_secrets=False)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True).replace("${", "$${")
    target = Path(path)
    target.write_text(text, encoding="utf-8")
    return target
