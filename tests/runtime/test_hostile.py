"""Whatever a client sends gets a 4xx problem+json, never a 5xx, and a body that encodes."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiclient import call_asgi
from falcon import testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scaffold.runtime import Service

HOSTILE_BODIES = {
    "lone-surrogate-escaped": (b'{"name": "\\ud800"}', 400),
    "lone-surrogate-raw": (b'{"name": "\xed\xa0\x80"}', 400),
    "invalid-utf8": (b'{"name": "\xff"}', 400),
    "nesting-30000": (b"[" * 30000, 400),
    "nesting-1023-valid": (b"[" * 1023 + b"]" * 1023, 422),
    "huge-exponent": (b'{"name": 1e99999}', 400),
    "20000-digits": (b'{"name": ' + b"1" * 20000 + b"}", 400),
    "nan": (b'{"name": NaN}', 400),
    "infinity": (b'{"name": Infinity}', 400),
    "bom": (b'\xef\xbb\xbf{"name": "Ada"}', 400),
    "duplicate-key": (b'{"name": "Ada", "name": "Bob"}', 400),
    "duplicate-nested-key": (b'{"name": "Ada", "x": {"a": 1, "a": 2}}', 400),
    "colon-in-string-is-fine": (b'{"name": "a:b:c"}', 201),
    "big-integer-field": (b'{"name": "x", "language": 123456789012345678901234567890}', 422),
    "not-an-object": (b'"just a string"', 422),
    "truncated": (b'{"name": "Ada"', 400),
}


@pytest.mark.parametrize(
    ("body", "status"), list(HOSTILE_BODIES.values()), ids=list(HOSTILE_BODIES)
)
def test_hostile_bodies_are_4xx_problems(app: testing.TestClient, body: bytes, status: int) -> None:
    """Each body gets the status it deserves, in the envelope, with a body that is valid JSON."""
    result = app.simulate_post(
        "/v1/greetings", body=body, headers={"Content-Type": "application/json"}
    )
    assert result.status_code == status, result.text
    if status >= 400:
        assert result.headers["content-type"] == "application/problem+json"
        assert json.loads(result.content)["status"] == status


def test_duplicate_key_is_named(app: testing.TestClient) -> None:
    """The 400 says which key came twice."""
    result = app.simulate_post(
        "/v1/greetings",
        body=b'{"name": "Ada", "name": "Bob"}',
        headers={"Content-Type": "application/json"},
    )
    assert result.json["detail"] == "The body gives the key 'name' twice in one object."


def test_invalid_utf8_names_the_byte(app: testing.TestClient) -> None:
    """The 400 for a body that is not UTF-8 says where the first bad byte is."""
    result = app.simulate_post(
        "/v1/greetings", body=b'{"name": "\xff"}', headers={"Content-Type": "application/json"}
    )
    assert result.json["detail"] == "The body is not valid UTF-8 (byte 10)."


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/v1/greetings/%ZZ", "The path has a '%' that is not followed by two hex digits."),
        ("/v1/greetings/%C3%28", "The path is not UTF-8 once percent-decoded."),
        ("/v1/greetings/Ada?limit=%E0", "The query string is not UTF-8 once percent-decoded."),
        (
            "/v1/greetings/Ada?limit=50%",
            "The query string has a '%' that is not followed by two hex digits.",
        ),
    ],
    ids=["bad-percent-path", "bad-utf8-path", "bad-utf8-query", "bad-percent-query"],
)
def test_targets_that_do_not_decode_are_400(
    example_service: Service, path: str, detail: str
) -> None:
    """A path or query that is not valid percent-encoded UTF-8 is a 400 saying why."""
    raw_path, _, query = path.partition("?")
    status, headers, body = asyncio.run(
        call_asgi(example_service.app, "GET", raw_path.encode(), query=query.encode())
    )
    assert status == 400
    assert headers[b"content-type"] == b"application/problem+json"
    assert json.loads(body)["detail"] == detail


def test_encoded_text_in_a_path_is_served(example_service: Service) -> None:
    """Valid percent-encoded UTF-8 reaches the handler decoded."""
    status, _, body = asyncio.run(
        call_asgi(example_service.app, "GET", b"/v1/greetings/Ad%C3%A9le")
    )
    assert status == 200
    assert json.loads(body)["greeting"] == "Hello, Adéle!"


header_names = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=":"),
    min_size=1,
    max_size=12,
)
header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]),
    path=st.sampled_from(
        ["/v1/greetings", "/v1/greetings/Ada", "/v1/people", "/nothing", "/", "/openapi.json"]
    ),
    body=st.binary(max_size=200)
    | st.builds(
        lambda v: json.dumps(v).encode(),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=8,
        ),
    ),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/json; charset=latin-1", ""]
    ),
    headers=st.dictionaries(header_names, header_values, max_size=4),
)
def test_no_request_gets_a_5xx(
    app: testing.TestClient,
    method: str,
    path: str,
    body: bytes,
    content_type: str,
    headers: dict[str, str],
) -> None:
    """Any method, path, body, content type and extra headers: below 500, errors as problems."""
    sent = {**headers, "Content-Type": content_type} if content_type else dict(headers)
    sent.pop("Content-Length", None)
    sent.pop("content-length", None)
    result = app.simulate_request(method, path, body=body, headers=sent)
    assert result.status_code < 500, result.text
    if result.status_code >= 400 and method != "HEAD":
        assert result.headers["content-type"] == "application/problem+json"
        assert json.loads(result.content)["status"] == result.status_code
