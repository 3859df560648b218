"""Basic auth on the app port: 401 with a challenge, the verified user in the access log."""

from __future__ import annotations

import base64

import apachelogs
import pytest
from falcon import testing

from scaffold.runtime import ConfigError, parse_config
from scaffold.runtime.passwords import hash_password

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


@pytest.mark.parametrize(
    "headers",
    [
        basic("alice", "wrong"),
        basic("mallory", "s3cret"),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
    ],
    ids=["wrong-password", "unknown-user", "garbage", "other-scheme", "no-colon"],
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
