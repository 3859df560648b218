"""The request body as the service reads it: counted against the limit, copied for the log.

Bodies whose length is declared are refused before they are read (``LimitsMiddleware``);
chunked ones are counted here, event by event, as the service reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import falcon


def too_large(limit: int) -> falcon.HTTPContentTooLarge:
    """The 413 for a body over ``limit`` bytes."""
    return falcon.HTTPContentTooLarge(
        description=f"The request body is larger than the limit of {limit} bytes."
    )


class BodyTap:
    """An ASGI ``receive`` wrapper that counts body bytes as the service reads them.

    Past ``limit`` it raises 413 (for bodies whose length was not declared); with
    ``keep`` > 0 it also keeps a copy of the first ``keep`` + 1 bytes (for the request log).
    """

    __slots__ = ("copy", "keep", "limit", "receive", "total")

    def __init__(self, *, limit: int | None = None, keep: int = 0) -> None:
        self.receive: Any = None  # the server's receive, set when the stream is first opened
        self.limit = limit
        self.keep = keep
        self.total = 0
        self.copy = bytearray()

    def see(self, body: bytes) -> None:
        """Count ``body``; raise 413 once over the limit."""
        self.total += len(body)
        if self.limit is not None and self.total > self.limit:
            raise too_large(self.limit)
        room = self.keep + 1 - len(self.copy)
        if room > 0 and body:
            self.copy += body[:room]

    def first(self, event: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """Count the body of the event Falcon read before the service asked (if any)."""
        if event is not None and event.get("type") == "http.request":
            self.see(event.get("body", b""))
        return event

    async def __call__(self) -> dict[str, Any]:
        event: dict[str, Any] = await self.receive()
        if event["type"] == "http.request":
            self.see(event.get("body", b""))
        return event
