"""Request limits: 413 over ``server.max_body_bytes`` (chunked too), 503 over ``max_in_flight``,
400 for a target that is not valid percent-encoded UTF-8.

All run before body parsing, CORS, auth and the handler, so a refused request costs almost
nothing. Middleware runs on the worker's event loop, one request at a time between awaits,
so the in-flight count needs no lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import falcon

from scaffold.runtime.target import check_target

if TYPE_CHECKING:
    from scaffold.runtime.context import Request

RETRY_AFTER_SECONDS = 1


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


class LimitsMiddleware:
    """Shed requests beyond ``max_in_flight`` (503 + ``Retry-After``), refuse large bodies (413).

    Args:
        max_body_bytes: Largest body accepted; by ``Content-Length`` at once, chunked as read.
        max_in_flight: Requests this worker serves at once before shedding (``None``: no limit).
    """

    def __init__(self, max_body_bytes: int, max_in_flight: int | None = None) -> None:
        self.max_body_bytes = max_body_bytes
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def process_request(self, req: Request, resp: falcon.asgi.Response) -> None:
        """Take a slot or shed; check the target; check the declared length or tap the stream."""
        limit = self.max_in_flight
        if limit is not None:
            if self.in_flight >= limit:
                raise falcon.HTTPServiceUnavailable(
                    description=f"More than {limit} requests are in flight; retry shortly.",
                    retry_after=RETRY_AFTER_SECONDS,
                )
            self.in_flight += 1
            req.context.in_flight = True
        check_target(req.scope)
        if req.raw_header(b"content-length") is not None:
            length = req.content_length  # Falcon's parse: a malformed value is a 400
            if length is not None and length > self.max_body_bytes:
                raise too_large(self.max_body_bytes)
        elif req.raw_header(b"transfer-encoding") is not None:
            tap = req.context.body_tap
            if tap is None:
                req.context.body_tap = BodyTap(limit=self.max_body_bytes)
            else:
                tap.limit = self.max_body_bytes

    async def process_response(
        self, req: Request, resp: falcon.asgi.Response, resource: object, req_succeeded: bool
    ) -> None:
        """Give the slot back, whatever happened."""
        if req.context.in_flight:
            req.context.in_flight = False
            self.in_flight -= 1
