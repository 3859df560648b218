"""Request ids: taken from ``X-Request-Id`` when sane, otherwise generated."""

from __future__ import annotations

import contextvars
import random
import re

HEADER = "X-Request-Id"
MAX_LENGTH = 128
_SANE = re.compile(rf"[\x21-\x7e]{{1,{MAX_LENGTH}}}")
# Ids only need to be unique, not secret: the Mersenne Twister is seeded from the OS in each
# worker (gunicorn reseeds after fork) and, with bytes.hex, costs a third of os.urandom (a
# system call) or of formatting a 128-bit integer.
_bits = random.getrandbits

current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "scaffold_request_id", default=None
)


def new_request_id() -> str:
    """A new id: 32 lowercase hex digits, like a W3C trace id."""
    return _bits(128).to_bytes(16, "big").hex()


def accept_request_id(value: str | None) -> str:
    """Return ``value`` when it is 1-128 visible ASCII characters, else a new id."""
    if value and _SANE.fullmatch(value):
        return value
    return new_request_id()
