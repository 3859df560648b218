"""Which listening sockets are the app port's and which the admin port's."""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from typing import Any, TypeVar

from scaffold.runtime.config_schema import ServerConfig
from scaffold.runtime.exceptions import ConfigError

T = TypeVar("T")


def split_listeners(listeners: Sequence[T], app_count: int) -> tuple[list[T], list[T]]:
    """Split bound listeners into the app's (the first ``app_count``) and the admin's.

    gunicorn binds in the order of its ``bind`` list (app addresses, then admin ones), and
    systemd passes sockets in the order of the socket unit, which lists them the same way.
    Order, not address, decides: ports may be OS-chosen (``:0``) or inherited.
    """
    return list(listeners[:app_count]), list(listeners[app_count:])


def describe(name: Any, scheme: str) -> str:
    """``http://127.0.0.1:8080``, ``https://[::1]:8443`` or ``unix:/run/x.sock``."""
    if isinstance(name, bytes):
        name = name.decode(errors="replace")
    if isinstance(name, str):
        return f"unix:{name}"
    host, port = name[0], name[1]
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}"


def check_addresses(server: ServerConfig) -> None:
    """Try each address of ``server.bind`` and ``server.admin_bind`` before gunicorn does.

    gunicorn retries a failed bind five times, a second apart, logging an error each time;
    a taken port or a missing socket folder is better said at once, in one line. Sockets
    passed by systemd (``LISTEN_FDS``) and ``fd://`` addresses are not ours to try.

    Raises:
        ConfigError: One line per address that cannot be bound, naming it and the cause.
    """
    if os.environ.get("LISTEN_FDS"):
        return
    problems = []
    for key, addresses in (("server.bind", server.bind), ("server.admin_bind", server.admin_bind)):
        for address in addresses:
            reason = _bind_problem(address)
            if reason is not None:
                problems.append(f"{key}: cannot listen on {address}: {reason}")
    if problems:
        raise ConfigError(problems)


def _bind_problem(address: str) -> str | None:
    if address.startswith("fd://"):
        return None
    if address.startswith("unix:"):
        folder = os.path.dirname(os.path.abspath(address[len("unix:") :])) or "/"
        if not os.path.isdir(folder):
            return f"no such folder {folder}"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"permission denied in {folder}"
        return None
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    try:
        infos = socket.getaddrinfo(
            host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except OSError as ex:
        return f"cannot resolve {host}: {ex.strerror or ex}"
    family, kind, proto, _, sockaddr = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind(sockaddr)
        except OSError as ex:
            return (ex.strerror or str(ex)).lower()
    return None
