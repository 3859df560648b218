"""CORS: preflights answered before auth, allowed origins marked on every response."""

from __future__ import annotations

import pytest
from falcon import testing

from scaffold.runtime import parse_config
from scaffold.runtime.passwords import hash_password

ORIGIN = "https://app.example.com"


@pytest.fixture
def client(make_example):
    """Build a test client for a given `cors:` section (and optionally Basic auth)."""

    def build(cors: str, auth: bool = False) -> testing.TestClient:
        text = f"cors: {cors}\n"
        if auth:
            text += f"auth: {{basic: {{users: {{alice: '{hash_password('pw')}'}}}}}}\n"
        return testing.TestClient(make_example(parse_config(text, env={})).app)

    return build


PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type, x-request-id",
}


def test_preflight_from_allowed_origin_skips_auth(client) -> None:
    """A preflight carries no credentials, so it is answered before auth."""
    result = client(f"{{allow_origins: ['{ORIGIN}']}}", auth=True).simulate_options(
        "/v1/greetings", headers=PREFLIGHT
    )
    assert result.status_code == 204
    assert result.headers["access-control-allow-origin"] == ORIGIN
    assert result.headers["access-control-allow-methods"] == "POST"
    assert result.headers["access-control-allow-headers"] == "content-type, x-request-id"
    assert result.headers["access-control-max-age"] == "600"
    assert result.headers["vary"] == "Origin"
    assert "access-control-expose-headers" not in result.headers  # a preflight exposes nothing


def test_only_options_can_be_a_preflight(client) -> None:
    """Another method carrying preflight headers is an ordinary request: auth and handler run."""
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"}
    guarded = client(f"{{allow_origins: ['{ORIGIN}']}}", auth=True)
    assert guarded.simulate_delete("/silent", headers=headers).status_code == 401
    open_ = client(f"{{allow_origins: ['{ORIGIN}']}}")
    result = open_.simulate_post("/v1/greetings", json={"name": "Ada"}, headers=headers)
    assert result.status_code == 201
    assert result.json["greeting"] == "Hello, Ada!"
    assert "access-control-allow-methods" not in result.headers


def test_preflight_from_other_origin_gets_no_cors_headers(client) -> None:
    """An origin not listed gets no Access-Control headers (the browser blocks it)."""
    result = client(f"{{allow_origins: ['{ORIGIN}']}}").simulate_options(
        "/v1/greetings", headers={**PREFLIGHT, "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in result.headers


def test_simple_request_is_marked_and_exposes_request_id(client) -> None:
    """Responses (errors too) to an allowed origin carry Allow-Origin and Expose-Headers."""
    c = client(f"{{allow_origins: ['{ORIGIN}'], allow_credentials: true, expose_headers: [ETag]}}")
    for path, status in (("/v1/greetings/Ada", 200), ("/nothing", 404)):
        result = c.simulate_get(path, headers={"Origin": ORIGIN})
        assert result.status_code == status
        assert result.headers["access-control-allow-origin"] == ORIGIN
        assert result.headers["access-control-allow-credentials"] == "true"
        assert result.headers["access-control-expose-headers"] == "ETag, X-Request-Id"
        assert result.headers["vary"] == "Origin"


def test_wildcard_without_credentials(client) -> None:
    """allow_origins ["*"] answers with *."""
    result = client("{allow_origins: ['*']}").simulate_get(
        "/v1/greetings/Ada", headers={"Origin": "https://anyone.example"}
    )
    assert result.headers["access-control-allow-origin"] == "*"
    assert "vary" not in result.headers  # the answer is the same for every origin
    assert "access-control-allow-credentials" not in result.headers


@pytest.mark.parametrize("cors", ["{}", "{allow_origins: []}"], ids=["absent", "empty"])
def test_no_cors_by_default(client, cors: str) -> None:
    """With no origins configured there are no CORS headers."""
    result = client(cors).simulate_get("/v1/greetings/Ada", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in result.headers


def test_plain_options_still_lists_methods(client) -> None:
    """OPTIONS without preflight headers is the normal 204 with Allow."""
    result = client(f"{{allow_origins: ['{ORIGIN}']}}").simulate_options("/v1/greetings")
    assert result.status_code == 204
    assert result.headers["allow"] == "GET, HEAD, OPTIONS, POST"
