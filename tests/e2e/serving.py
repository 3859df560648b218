"""Helpers for end-to-end tests: a real `scaffold run` (gunicorn) on OS-chosen ports of 127.0.0.1."""

from __future__ import annotations

import http.client
import os
import socket
import sys
from pathlib import Path

from scaffold.runtime.testing import LiveServer

BIN = Path(sys.executable).parent


class ServerProcess(LiveServer):
    """A `scaffold run` master in a service folder, with its output collected.

    The library's :class:`LiveServer` (what the ``live_server`` fixture runs), with the
    addresses as ``app`` and ``admin`` and the operators' variables of acme-widgets unset.

    Args:
        root: The service folder.
        *args: Options of ``scaffold run``.
        env: Variables added to this process's environment.
        os_ports: Bind app and admin to OS-chosen ports of 127.0.0.1.
    """

    def __init__(
        self,
        root: Path,
        *args: str,
        env: dict[str, str] | None = None,
        os_ports: bool = True,
    ) -> None:
        environment = {**os.environ, **(env or {})}
        for name in ("ACME_WIDGETS_BIND", "ACME_WIDGETS_ADMIN_BIND", "ACME_WIDGETS_WORKERS"):
            environment.pop(name, None)
        ports = ("--bind", "127.0.0.1:0", "--admin-bind", "127.0.0.1:0") if os_ports else ()
        super().__init__(root, *ports, *args, env=environment)

    @property
    def app(self) -> tuple[str, int] | None:
        return self.app_address

    @property
    def admin(self) -> tuple[str, int] | None:
        return self.admin_address


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
