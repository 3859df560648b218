"""Request limits: 413 over ``server.max_body_bytes`` (chunked too), 503 over ``max_in_flight``,
400 for a target that is not valid percent-encoded UTF-8.

All run before body parsing, CORS, auth and the handler, so a refused request costs almost
nothing. Middleware runs on the worker's event loop, one request at a time between awaits,
so the in-flight count needs no lock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import falcon

from scaffold.runtime.bodytap import BodyTap, too_large
from scaffold.runtime.middleware._target import check_target

if TYPE_CHECKING:
    from scaffold.runtime.context import Request

RETRY_AFTER_SECONDS = 1


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
