"""Drive an ASGI app as a server does: the raw target, the body in chunks, no falcon.testing.

falcon.testing re-encodes paths and always declares the body's length; these tests need the
bytes a client really sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote_to_bytes


async def call_asgi(
    app: Any,
    method: str,
    raw_path: bytes,
    *,
    query: bytes = b"",
    headers: dict[str, str] | None = None,
    chunks: Sequence[bytes] = (b"",),
    client: tuple[str, int] | None = ("127.0.0.1", 50000),
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One request to ``app``; returns the status, the headers and the body it sent.

    ``client`` is the peer's address, ``None`` as on a Unix socket.
    """
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        # What gunicorn passes: percent-decoded, undecodable bytes as U+FFFD.
        "path": unquote_to_bytes(raw_path).decode("utf-8", "replace"),
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        or [(b"host", b"127.0.0.1")],
        "server": ("127.0.0.1", 8080),
        "client": client,
    }
    events = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if events:
            return events.pop(0)
        # The client sent everything: nothing more comes. A server would wait for the
        # client to leave; an app that reads past the body sees it leave after a while,
        # rather than holding the test for ever.
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body
