"""Per-request state: one typed context, and the request class that carries it.

Everything the runtime's middleware knows about a request lives on :class:`RequestContext`
(Falcon's ``context_type``), as attributes with class-level defaults, so making one costs
nothing per attribute. Services may keep adding their own attributes (``req.context.x = 1``)
as with any Falcon context.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

import falcon
import falcon.asgi
from falcon.asgi.stream import BoundedStream

from scaffold.runtime.bodytap import BodyTap

if TYPE_CHECKING:
    from scaffold.runtime.observability import TraceParent


class RequestContext(falcon.Context):
    """What the runtime records about one request.

    Attributes:
        request_id: The ``X-Request-Id`` (taken from the client when sane, else generated).
        log_token: Resets the request id of log lines when the request ends.
        started: Wall-clock arrival time (``time.time()``), for the access log.
        started_perf: Arrival on the ``perf_counter`` clock, for durations.
        user: The Basic-auth user, set only once the password was verified.
        in_flight: This request holds one of ``server.max_in_flight`` slots.
        body_tap: Counts (and, for the request log, copies) the body as it is read.
        traceparent: The caller's valid W3C ``traceparent``, if it sent one; pass
            ``traceparent.child()`` on to the services this request calls.
    """

    request_id: str | None = None
    log_token: contextvars.Token[str | None] | None = None
    started: float = 0.0
    started_perf: float = 0.0
    user: str | None = None
    in_flight: bool = False
    body_tap: BodyTap | None = None
    traceparent: TraceParent | None = None


class Request(falcon.asgi.Request):
    """Falcon's ASGI request with a :class:`RequestContext` and a tapped body stream."""

    context_type = RequestContext
    context: RequestContext

    def raw_header(self, name: bytes) -> bytes | None:
        """The value of header ``name`` (lower-case bytes) as received, or ``None``.

        The runtime's middleware reads a handful of headers per request, most of them
        absent; Falcon's ``get_header`` pays for an exception on each absent one.
        """
        return self._asgi_headers.get(name)

    @property
    def stream(self) -> BoundedStream:  # type: ignore[override]
        """The body stream; bodies of unknown length are counted as they are read."""
        if self._stream is None:
            tap = self.context.body_tap
            if tap is None:
                return super().stream
            tap.receive = self._receive
            first = tap.first(self._first_event)
            self._stream = BoundedStream(tap, first_event=first, content_length=self.content_length)
        return self._stream

    @property
    def bounded_stream(self) -> BoundedStream:  # type: ignore[override]
        """Alias of :attr:`stream`."""
        return self.stream
