"""W3C Trace Context: the ``traceparent`` header a caller sends, parsed.

``traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`` carries a version,
the trace id (32 hex digits), the caller's span id (16) and flags (``01`` = sampled). The
request id of a request that brings a valid one (and no ``X-Request-Id``) is its trace id,
so the service's logs join the caller's trace.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

HEADER = "traceparent"
_FORMAT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


@dataclass(frozen=True)
class TraceParent:
    """A valid ``traceparent`` (W3C Trace Context, level 1).

    Attributes:
        trace_id: 32 lowercase hex digits, not all zero.
        parent_id: The caller's span id: 16 lowercase hex digits, not all zero.
        flags: The trace flags (bit 0: the caller sampled this trace).
        version: The header's version (``00`` today).
    """

    trace_id: str
    parent_id: str
    flags: int = 0
    version: str = "00"

    @property
    def sampled(self) -> bool:
        """Whether the caller records this trace."""
        return bool(self.flags & 1)

    def child(self) -> TraceParent:
        """The ``traceparent`` for a call this request makes: same trace, a new span id.

        ``headers["traceparent"] = str(req.context.traceparent.child())`` carries the trace
        on to the next service.
        """
        span_id = _ZERO_SPAN
        while span_id == _ZERO_SPAN:
            span_id = random.getrandbits(64).to_bytes(8, "big").hex()
        return TraceParent(self.trace_id, span_id, self.flags)

    def __str__(self) -> str:
        return f"00-{self.trace_id}-{self.parent_id}-{self.flags:02x}"


def parse_traceparent(value: str | None) -> TraceParent | None:
    """Return the :class:`TraceParent` in ``value``, or ``None`` when it is absent or invalid.

    Invalid: not lowercase hex fields of the right lengths, version ``ff``, an all-zero
    trace or span id, or version ``00`` with anything after the flags. A later version may
    add fields after the flags; those are ignored, as the specification says.
    """
    if not value:
        return None
    match = _FORMAT.fullmatch(value.strip(" \t"))
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest):
        return None
    if trace_id == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None
    return TraceParent(trace_id, parent_id, int(flags, 16), version)
