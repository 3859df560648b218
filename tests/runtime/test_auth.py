"""Basic auth on the app port: 401 with a challenge, the verified user in the access log."""

from __future__ import annotations

import asyncio
import base64

import apachelogs
import pytest
from falcon import testing

from scaffold.runtime import ConfigError, parse_config
from scaffold.runtime.config_schema import BasicAuthConfig
from scaffold.runtime.middleware import BasicAuthMiddleware, parse_basic
from scaffold.runtime.middleware._auth import _VerifiedCache
from scaffold.runtime.passwords import hash_password
from scaffold.runtime.threadpool import ThreadPool

HASH = hash_password("s3cret")


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def client(tmp_path, make_example) -> testing.TestClient:
    text = (
        f"logging: {{access_log: {tmp_path / 'access.log'}}}\n"
        f"auth: {{basic: {{realm: acme, users: {{alice: '{HASH}'}}}}}}\n"
    )
    return testing.TestClient(make_example(parse_config(text, env={})).app)


def test_no_credentials_is_401_with_challenge(client: testing.TestClient) -> None:
    """Without credentials: 401, a Basic challenge naming the realm, problem+json."""
    result = client.simulate_get("/v1/greetings/Ada")
    assert result.status_code == 401
    assert result.headers["www-authenticate"] == 'Basic realm="acme", charset="UTF-8"'
    assert result.headers["content-type"] == "application/problem+json"
    assert result.json["detail"] == "Valid Basic-auth credentials are required."


def test_realm_is_quoted_in_the_challenge(make_example) -> None:
    """A quote or backslash in the realm is escaped, so the challenge stays one quoted string."""
    config = parse_config(
        f"auth: {{basic: {{realm: 'say \"hi\" \\ bye', users: {{alice: '{HASH}'}}}}}}",
        env={},
    )
    result = testing.TestClient(make_example(config).app).simulate_get("/v1/greetings/Ada")
    assert result.headers["www-authenticate"] == (
        'Basic realm="say \\"hi\\" \\\\ bye", charset="UTF-8"'
    )


@pytest.mark.parametrize(
    "headers",
    [
        basic("alice", "wrong"),
        basic("mallory", "s3cret"),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Bearer abc"},
        {"Authorization": basic("alice", "s3cret")["Authorization"].replace("Basic", "Bearer")},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
    ],
    ids=["wrong-password", "unknown-user", "garbage", "other-scheme", "bearer-token", "no-colon"],
)
def test_bad_credentials_are_401(client: testing.TestClient, headers: dict[str, str]) -> None:
    """Wrong, unknown or malformed credentials are all 401 (never 500)."""
    assert client.simulate_get("/v1/greetings/Ada", headers=headers).status_code == 401


def test_valid_credentials_pass_and_are_cached(client: testing.TestClient) -> None:
    """The right password passes, again and again (the second time from the cache)."""
    for _ in range(3):
        assert (
            client.simulate_get("/v1/greetings/Ada", headers=basic("alice", "s3cret")).status_code
            == 200
        )


def test_a_cached_login_admits_no_other_password(client: testing.TestClient) -> None:
    """After a good login, the cache of verified credentials admits only that password."""
    good, wrong = basic("alice", "s3cret"), basic("alice", "s3cret-not")
    assert client.simulate_get("/v1/greetings/Ada", headers=good).status_code == 200
    for headers in (wrong, basic("alice", ""), basic("mallory", "s3cret")):
        assert client.simulate_get("/v1/greetings/Ada", headers=headers).status_code == 401
    assert client.simulate_get("/v1/greetings/Ada", headers=good).status_code == 200


def test_verified_credentials_skip_scrypt_until_they_expire() -> None:
    """A verified password is answered from the cache: scrypt (on the pool) runs once."""
    pool = ThreadPool(1, "scrypt")
    auth = BasicAuthMiddleware(BasicAuthConfig(users={"alice": HASH}), pool)
    header = basic("alice", "s3cret")["Authorization"]

    async def scenario() -> list[str | None]:
        first = await auth.authenticate(header)
        pool.shutdown()  # from now on a verification would raise: only the cache can answer
        return [first, await auth.authenticate(header), await auth.authenticate(header)]

    assert asyncio.run(scenario()) == ["alice", "alice", "alice"]


def test_the_cache_forgets_after_its_window() -> None:
    """An entry older than the cache window is a miss (the password is verified again)."""
    cache = _VerifiedCache(ttl=-1.0)
    cache.add("alice", "s3cret")
    assert not cache.hit("alice", "s3cret")
    fresh = _VerifiedCache(ttl=60.0)
    fresh.add("alice", "s3cret")
    assert fresh.hit("alice", "s3cret")
    assert not fresh.hit("alice", "other")
    assert not fresh.hit("bob", "s3cret")


def test_the_cache_keeps_the_most_recently_used_entries() -> None:
    """At its size, the cache drops the least recently used entry, never the one just added."""
    cache = _VerifiedCache(size=2)
    cache.add("alice", "a")
    cache.add("bob", "b")
    assert cache.hit("alice", "a")  # alice is now the most recently used
    cache.add("carol", "c")
    assert [cache.hit(*pair) for pair in (("alice", "a"), ("bob", "b"), ("carol", "c"))] == [
        True,
        False,
        True,
    ]


def _token(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"Basic {_token('alice:s3cret')}", ("alice", "s3cret")),
        (f"basic {_token('alice:s3cret')}", ("alice", "s3cret")),
        (f"Basic   {_token('alice:s3cret')}  ", ("alice", "s3cret")),
        (f"Basic {_token('alice:pa:ss:word')}", ("alice", "pa:ss:word")),
        (f"Basic {_token('alice:')}", ("alice", "")),
        (f"Bearer {_token('alice:s3cret')}", None),
        (f"Basic {_token('alice:s3cret')[:4]}*{_token('alice:s3cret')[4:]}", None),
        ("Basic " + base64.b64encode(b"alice:\xff").decode(), None),
        ("Basic ", None),
        ("Basic", None),
        ("", None),
        (None, None),
    ],
    ids=[
        "basic",
        "scheme-any-case",
        "extra-spaces",
        "colon-in-password",
        "empty-password",
        "other-scheme",
        "not-strict-base64",
        "not-utf8",
        "no-token",
        "scheme-only",
        "empty",
        "absent",
    ],
)
def test_parse_basic(header: str | None, expected: tuple[str, str] | None) -> None:
    """RFC 7617: any-case scheme, spaces before the token, the user ends at the first ':'."""
    assert parse_basic(header) == expected


def test_access_log_user_only_after_verification(client: testing.TestClient, tmp_path) -> None:
    """%u is the user once the password was verified, '-' for a failed attempt."""
    client.simulate_get("/v1/greetings/Ada", headers=basic("alice", "wrong"))
    client.simulate_get("/v1/greetings/Ada", headers=basic("alice", "s3cret"))
    parser = apachelogs.LogParser(apachelogs.COMBINED)
    lines = (tmp_path / "access.log").read_text().splitlines()
    entries = [parser.parse(line) for line in lines]
    assert [(e.remote_user, e.final_status) for e in entries] == [(None, 401), ("alice", 200)]


def test_admin_port_needs_no_auth(make_example) -> None:
    """Auth protects the app port; the admin port stays open to operators."""
    config = parse_config(f"auth: {{basic: {{users: {{alice: '{HASH}'}}}}}}", env={})
    admin = testing.TestClient(make_example(config).admin)
    assert admin.simulate_get("/ping").status_code == 200


def test_hash_in_config_is_checked() -> None:
    """A plain password where a hash belongs is a config error naming the user, not the value."""
    with pytest.raises(ConfigError) as info:
        parse_config("auth: {basic: {users: {alice: hunter2}}}", env={})
    assert info.value.problems[0].startswith("auth.basic.users.alice:")
    assert "hunter2" not in str(info.value)
