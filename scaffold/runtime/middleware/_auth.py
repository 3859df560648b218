"""HTTP Basic auth on the app port, with a cache of verified credentials."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

import falcon
import falcon.asgi

from scaffold.runtime.config_schema import BasicAuthConfig
from scaffold.runtime.passwords import verify_password
from scaffold.runtime.threadpool import ThreadPool

if TYPE_CHECKING:
    from scaffold.runtime.context import Request

CACHE_SECONDS = 300.0
CACHE_SIZE = 1024


class _VerifiedCache:
    """Remember recently verified credentials, so scrypt runs once per user and window.

    Keys are HMACs of ``user:password`` under a per-process random key: the cache never
    holds a password, and a memory dump does not reveal one.
    """

    def __init__(self, ttl: float = CACHE_SECONDS, size: int = CACHE_SIZE) -> None:
        self._ttl = ttl
        self._size = size
        self._key = os.urandom(32)
        self._entries: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def _digest(self, user: str, password: str) -> bytes:
        return hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()

    def hit(self, user: str, password: str) -> bool:
        digest = self._digest(user, password)
        now = time.monotonic()
        with self._lock:
            expires = self._entries.get(digest)
            if expires is None:
                return False
            if expires < now:
                del self._entries[digest]
                return False
            self._entries.move_to_end(digest)
            return True

    def add(self, user: str, password: str) -> None:
        digest = self._digest(user, password)
        with self._lock:
            self._entries[digest] = time.monotonic() + self._ttl
            self._entries.move_to_end(digest)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """Return ``(user, password)`` from an ``Authorization: Basic`` header, or ``None``."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return user, password


class BasicAuthMiddleware:
    """Require a valid Basic-auth user on every request that reaches it (401 otherwise).

    Args:
        config: Realm and users.
        pool: Where scrypt runs on a cache miss: it takes tens of milliseconds of CPU,
            which must not hold the event loop (and every other request) meanwhile.
    """

    def __init__(self, config: BasicAuthConfig, pool: ThreadPool) -> None:
        self.users = dict(config.users)
        realm = config.realm.replace("\\", "\\\\").replace('"', '\\"')
        self.challenge = f'Basic realm="{realm}", charset="UTF-8"'
        self._cache = _VerifiedCache()
        self._pool = pool

    async def authenticate(self, header: str | None) -> str | None:
        """Return the verified user name for ``header``, or ``None``."""
        credentials = parse_basic(header)
        if credentials is None:
            return None
        user, password = credentials
        encoded = self.users.get(user)
        if encoded is None:
            return None
        if self._cache.hit(user, password):
            return user
        if await self._pool.run(verify_password, password, encoded):
            self._cache.add(user, password)
            return user
        return None

    async def process_request(self, req: Request, resp: falcon.asgi.Response) -> None:
        """Verify the credentials or answer 401 with a challenge."""
        user = await self.authenticate(req.get_header("Authorization"))
        if user is None:
            raise falcon.HTTPUnauthorized(
                description="Valid Basic-auth credentials are required.",
                challenges=[self.challenge],
            )
        req.context.user = user
