"""The test user: who the test clients are when a test's config turns Basic auth on."""

from __future__ import annotations

import base64
import functools

from scaffold.runtime.passwords import hash_password

TEST_USER = "tester"
"""The Basic-auth user a test's config has whenever ``auth.basic`` is on."""
TEST_PASSWORD = "tester-password"
"""Its password: known to every test, so never a secret."""


def basic_auth(user: str = TEST_USER, password: str = TEST_PASSWORD) -> dict[str, str]:
    """Return the ``Authorization`` header of Basic credentials (default: the test user's).

    Example::

        client.simulate_get("/v1/orders", headers=basic_auth("mallory", "guess"))
    """
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


@functools.cache
def tester_hash() -> str:
    """The test user's password hash, made once per process (scrypt takes tens of ms)."""
    return hash_password(TEST_PASSWORD)
