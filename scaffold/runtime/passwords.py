"""Password hashes for Basic auth users: scrypt, self-describing, constant-time checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

ALGORITHM = "scrypt"
# scrypt cost: 2**14 x 8 x 1 needs 16 MiB and ~50 ms, so guessing offline is expensive.
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """Return ``scrypt$N$r$p$salt$key`` for ``password`` (a new random salt by default)."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    key = hashlib.scrypt(
        password.encode(), salt=salt, n=N, r=R, p=P, maxmem=_MAXMEM, dklen=KEY_BYTES
    )
    return f"{ALGORITHM}${N}${R}${P}${_b64(salt)}${_b64(key)}"


def check_hash_format(encoded: str) -> str | None:
    """Return what is wrong with ``encoded`` as a stored hash, or ``None`` if it is usable."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != ALGORITHM:
        return "not a hash from `scaffold hash-password` (scrypt$N$r$p$salt$key)"
    try:
        n, r, p = (int(x) for x in parts[1:4])
        _unb64(parts[4])
        key = _unb64(parts[5])
    except ValueError:
        return "a malformed scrypt hash"
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or not key:
        return "a scrypt hash with invalid parameters"
    return None


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded`` (False for a malformed hash)."""
    if check_hash_format(encoded) is not None:
        return False
    _, n, r, p, salt, key = encoded.split("$")
    expected = _unb64(key)
    actual = hashlib.scrypt(
        password.encode(),
        salt=_unb64(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        maxmem=_MAXMEM,
        dklen=len(expected),
    )
    return hmac.compare_digest(actual, expected)
