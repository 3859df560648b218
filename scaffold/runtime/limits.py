"""Request limits: 413 over ``server.max_body_bytes`` (chunked too), 503 over ``max_in_flight``."""

from __future__ import annotations

import threading
from typing import Any

import falcon


def _too_large(limit: int) -> falcon.HTTPContentTooLarge:
    return falcon.HTTPContentTooLarge(
        description=f"The request body is larger than the limit of {limit} bytes."
    )


class LimitedStream:
    """A read-only wrapper that raises 413 once more than ``limit`` bytes were read."""

    def __init__(self, stream: Any, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self._read = 0

    def _count(self, data: bytes) -> bytes:
        self._read += len(data)
        if self._read > self._limit:
            raise _too_large(self._limit)
        return data

    def read(self, size: int | None = -1) -> bytes:
        """Read like ``io.RawIOBase.read``, but never past the limit plus one byte."""
        allowed = self._limit - self._read + 1
        if size is None or size < 0 or size > allowed:
            size = allowed
        return self._count(self._stream.read(size))

    def readline(self, size: int | None = -1) -> bytes:
        """Read one line, counted against the limit."""
        allowed = self._limit - self._read + 1
        if size is None or size < 0 or size > allowed:
            size = allowed
        return self._count(self._stream.readline(size))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class BodyLimitMiddleware:
    """Refuse bodies over ``limit`` bytes: by ``Content-Length`` at once, chunked as read."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Check the declared length, and wrap the stream for bodies of unknown length."""
        length = req.content_length
        if length is not None:
            if length > self.limit:
                raise _too_large(self.limit)
            return
        if req.env.get("wsgi.input_terminated"):
            limited = LimitedStream(req.stream, self.limit)
            req.env["wsgi.input"] = limited
            req.stream = limited


class ConcurrencyLimitMiddleware:
    """Shed requests beyond ``limit`` in flight in this worker: 503 with ``Retry-After``.

    It runs before body parsing, auth and the handler, so a shed request costs almost nothing.
    """

    def __init__(self, limit: int, retry_after: int = 1) -> None:
        self.limit = limit
        self.retry_after = retry_after
        self._slots = threading.BoundedSemaphore(limit)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Take a slot or shed the request."""
        if not self._slots.acquire(blocking=False):
            raise falcon.HTTPServiceUnavailable(
                description=f"More than {self.limit} requests are in flight; retry shortly.",
                retry_after=self.retry_after,
            )
        req.context.in_flight_slot = True

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        """Give the slot back, whatever happened."""
        if getattr(req.context, "in_flight_slot", False):
            req.context.in_flight_slot = False
            self._slots.release()
