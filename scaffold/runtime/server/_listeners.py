"""Which listening sockets are the app port's and which the admin port's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

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
