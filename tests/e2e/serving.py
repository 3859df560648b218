"""Helpers for end-to-end tests: a real `scaffold run` (gunicorn) on OS-chosen ports of 127.0.0.1."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
LISTENING = re.compile(r"(app|admin) listening on https?://([\d.]+):(\d+)")
START_TIMEOUT = 30.0


class ServerProcess:
    """A `scaffold run` master in a service folder, with its stderr collected."""

    def __init__(
        self,
        root: Path,
        *args: str,
        env: dict[str, str] | None = None,
        os_ports: bool = True,
    ) -> None:
        self.root = root
        self.args = args
        self.os_ports = os_ports
        self.env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        for name in ("ACME_WIDGETS_BIND", "ACME_WIDGETS_ADMIN_BIND", "ACME_WIDGETS_WORKERS"):
            self.env.pop(name, None)
        self.lines: list[str] = []
        self.app: tuple[str, int] | None = None
        self.admin: tuple[str, int] | None = None
        self._ready = threading.Event()
        self.proc: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def start(self) -> ServerProcess:
        cmd = [str(BIN / "scaffold"), "run"]
        if self.os_ports:
            cmd += ["--bind", "127.0.0.1:0", "--admin-bind", "127.0.0.1:0"]
        self.proc = subprocess.Popen(
            [*cmd, *self.args],
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(START_TIMEOUT):
            self.stop()
            pytest.fail(f"scaffold run did not start:\n{self.output}")
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            match = LISTENING.search(line)
            if match:
                address = (match.group(2), int(match.group(3)))
                if match.group(1) == "app":
                    self.app = address
                else:
                    self.admin = address
                if self.app and self.admin:
                    self._ready.set()
        self._ready.set()

    def wait_for_output(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline:
                pytest.fail(f"{text!r} never appeared in:\n{self.output}")
            time.sleep(0.05)

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM the master; SIGKILL it if it does not exit in time. Returns its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode


def request(
    address: tuple[str, int],
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request on a fresh connection; returns status, headers (lowercase), body."""
    conn = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


def free_port() -> int:
    """A port of 127.0.0.1 that was free a moment ago (for tools that cannot take port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
