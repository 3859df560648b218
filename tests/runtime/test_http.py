"""HTTP behaviour of the app port (DESIGN 4.4), one test per status code, via falcon.testing."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from asgiclient import call_asgi
from falcon import testing

from scaffold.runtime import Service

PROBLEM = "application/problem+json"


def assert_problem(result: testing.Result, status: int) -> dict:
    """The response is the one problem+json envelope with ``status``."""
    assert result.status_code == status
    assert result.headers["content-type"] == PROBLEM
    doc = result.json
    assert doc["type"] == "about:blank"
    assert doc["status"] == status
    assert doc["title"]
    assert doc["detail"]
    assert doc["request_id"] == result.headers["x-request-id"]
    return doc


def test_200_typed_get(app: testing.TestClient) -> None:
    """A typed GET dumps its response schema as JSON."""
    result = app.simulate_get("/v1/greetings/Ada")
    assert result.status_code == 200
    assert result.headers["content-type"] == "application/json"
    assert result.json == {"greeting": "Hello, Ada!", "language": "en"}


def test_201_typed_post(app: testing.TestClient) -> None:
    """A typed POST loads the body and answers with its declared status."""
    result = app.simulate_post("/v1/greetings", json={"name": "Ada", "language": "fr"})
    assert result.status_code == 201
    assert result.json == {"greeting": "Bonjour, Ada!", "language": "fr"}


def test_204_handler_without_body(app: testing.TestClient) -> None:
    """A handler that returns None sends no body."""
    result = app.simulate_put("/v1/people", json={"name": "Ada", "address": {"city": "London"}})
    assert result.status_code == 204
    assert result.content == b""


def test_query_schema_loads_params(app: testing.TestClient) -> None:
    """A query schema loads and converts query parameters."""
    result = app.simulate_get("/v1/greetings", params={"limit": "3"})
    assert result.status_code == 200
    assert len(result.json) == 3


def test_head_answers_like_get_without_body(app: testing.TestClient) -> None:
    """HEAD runs the GET responder and sends its headers but no body."""
    get = app.simulate_get("/v1/greetings/Ada")
    head = app.simulate_head("/v1/greetings/Ada")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]


def test_options_lists_allowed_methods(app: testing.TestClient) -> None:
    """OPTIONS answers 204 with the sorted Allow list, HEAD and OPTIONS included."""
    result = app.simulate_options("/v1/greetings")
    assert result.status_code == 204
    assert result.headers["allow"] == "GET, HEAD, OPTIONS, POST"


def test_404_unknown_path(app: testing.TestClient) -> None:
    """An unknown path is a problem+json 404 naming the path."""
    doc = assert_problem(app.simulate_get("/v2/nothing"), 404)
    assert "/v2/nothing" in doc["detail"]
    assert doc["title"] == "Not Found"


@pytest.mark.parametrize(
    ("path", "method", "allow"),
    [
        ("/v1/greetings/Ada", "DELETE", "GET, HEAD, OPTIONS"),
        ("/v1/greetings", "PATCH", "GET, HEAD, OPTIONS, POST"),
        ("/v1/people", "GET", "OPTIONS, PUT"),
    ],
    ids=["item", "collection", "put-only"],
)
def test_405_lists_allow_sorted(
    app: testing.TestClient, path: str, method: str, allow: str
) -> None:
    """A known path with another method is 405 with a sorted Allow header."""
    result = app.simulate_request(method, path)
    assert_problem(result, 405)
    assert result.headers["allow"] == allow


def test_406_accept_without_json(app: testing.TestClient) -> None:
    """An Accept header that rules out JSON gets 406."""
    result = app.simulate_get("/v1/greetings/Ada", headers={"Accept": "text/html"})
    assert_problem(result, 406)


@pytest.mark.parametrize(
    "accept", ["application/json", "application/*", "*/*", "text/html, application/json;q=0.5"]
)
def test_accept_allowing_json_is_served(app: testing.TestClient, accept: str) -> None:
    """Any Accept that allows JSON is served."""
    assert app.simulate_get("/v1/greetings/Ada", headers={"Accept": accept}).status_code == 200


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", None], ids=str
)
def test_415_body_not_json(app: testing.TestClient, content_type: str | None) -> None:
    """A body whose Content-Type is not application/json gets 415."""
    headers = {"Content-Type": content_type} if content_type else {}
    result = app.simulate_post("/v1/greetings", body='{"name": "Ada"}', headers=headers)
    assert_problem(result, 415)


def test_content_type_parameters_are_allowed(app: testing.TestClient) -> None:
    """application/json with parameters is still JSON."""
    result = app.simulate_post(
        "/v1/greetings",
        body='{"name": "Ada"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert result.status_code == 201


def test_400_malformed_json_has_line_and_column(app: testing.TestClient) -> None:
    """Malformed JSON is 400 and says where it broke."""
    body = '{\n  "name": "Ada",\n  "language" "fr"\n}'
    result = app.simulate_post(
        "/v1/greetings", body=body, headers={"Content-Type": "application/json"}
    )
    doc = assert_problem(result, 400)
    assert "line 3, column 14" in doc["detail"]


def test_400_empty_body(app: testing.TestClient) -> None:
    """An empty JSON body is a 400, not a 500."""
    result = app.simulate_post(
        "/v1/greetings", body="", headers={"Content-Type": "application/json"}
    )
    assert_problem(result, 400)


def test_422_one_entry_per_field_named_as_sent(app: testing.TestClient) -> None:
    """Schema failures list each field by the key the client sent (data_key)."""
    result = app.simulate_post("/v1/greetings", json={"name": "", "language": "de", "nickName": 5})
    doc = assert_problem(result, 422)
    assert doc["title"] == "Unprocessable Content"
    fields = sorted(e["field"] for e in doc["errors"])
    assert fields == ["language", "name", "nickName"]
    assert all(e["message"] for e in doc["errors"])


def test_422_unknown_field(app: testing.TestClient) -> None:
    """Unknown fields are rejected (marshmallow RAISE)."""
    doc = assert_problem(app.simulate_post("/v1/greetings", json={"name": "Ada", "age": 3}), 422)
    assert doc["errors"] == [{"field": "age", "message": "Unknown field."}]


def test_422_nested_fields_are_dotted(app: testing.TestClient) -> None:
    """Nested failures are named with dots."""
    result = app.simulate_put("/v1/people", json={"name": "Ada", "address": {}})
    doc = assert_problem(result, 422)
    assert doc["errors"][0]["field"] == "address.city"


def test_422_body_not_an_object(app: testing.TestClient) -> None:
    """A JSON body of the wrong type is 422 about the document itself."""
    doc = assert_problem(app.simulate_post("/v1/greetings", json=[1, 2]), 422)
    assert doc["errors"][0]["field"] is None


def test_422_query_parameter(app: testing.TestClient) -> None:
    """Query parameters are validated too."""
    doc = assert_problem(app.simulate_get("/v1/greetings", params={"limit": "0"}), 422)
    assert doc["errors"][0]["field"] == "limit"


def test_413_content_length_over_limit(small_body_service: Service) -> None:
    """A declared body over server.max_body_bytes is 413."""
    client = testing.TestClient(small_body_service.app)
    result = client.simulate_post("/v1/greetings", json={"name": "A" * 100})
    assert_problem(result, 413)


CHUNKED_JSON = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}


def test_413_chunked_body_over_limit(small_body_service: Service) -> None:
    """A body without Content-Length (chunked) is cut off at the limit too."""
    body = json.dumps({"name": "A" * 100}).encode()
    chunks = [body[i : i + 16] for i in range(0, len(body), 16)]
    status, _, content = asyncio.run(
        call_asgi(
            small_body_service.app, "POST", b"/v1/greetings", headers=CHUNKED_JSON, chunks=chunks
        )
    )
    assert status == 413
    assert json.loads(content)["status"] == 413


def test_chunked_body_of_exactly_the_limit_is_read(small_body_service: Service) -> None:
    """A chunked body of exactly max_body_bytes (64) is accepted; one byte more is not."""
    body = json.dumps({"name": "A" * 50}).encode()
    body = body[:-1] + b" " * (64 - len(body)) + b"}"
    assert len(body) == 64
    chunks = [body[:30], body[30:]]
    status, _, content = asyncio.run(
        call_asgi(
            small_body_service.app, "POST", b"/v1/greetings", headers=CHUNKED_JSON, chunks=chunks
        )
    )
    assert status == 201, content
    status, _, _ = asyncio.run(
        call_asgi(
            small_body_service.app,
            "POST",
            b"/v1/greetings",
            headers=CHUNKED_JSON,
            chunks=[body, b" "],
        )
    )
    assert status == 413


def test_chunked_body_under_limit_is_read(small_body_service: Service) -> None:
    """A small chunked body is read to its end."""
    chunks = [b'{"name": ', b'"Ada"}']
    status, _, content = asyncio.run(
        call_asgi(
            small_body_service.app, "POST", b"/v1/greetings", headers=CHUNKED_JSON, chunks=chunks
        )
    )
    assert status == 201, content
    assert json.loads(content)["greeting"] == "Hello, Ada!"


def test_500_has_request_id_and_no_traceback(
    app: testing.TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A handler bug is a 500 with the request id; the traceback goes only to the log."""
    with caplog.at_level(logging.ERROR, logger="scaffold.errors"):
        result = app.simulate_get("/broken", headers={"X-Request-Id": "trace-me-42"})
    doc = assert_problem(result, 500)
    assert doc["request_id"] == "trace-me-42"
    assert "Traceback" not in result.text
    assert "do-not-leak" not in result.text
    logged = "\n".join(r.getMessage() + str(r.exc_info) for r in caplog.records)
    assert "trace-me-42" in logged
    assert "do-not-leak" in logged


def test_handler_writing_nothing_is_200(app: testing.TestClient) -> None:
    """A plain responder that sets nothing answers 200 (never 0)."""
    assert app.simulate_delete("/silent").status_code == 200


def test_request_id_is_echoed(app: testing.TestClient) -> None:
    """A sane X-Request-Id is echoed back."""
    result = app.simulate_get("/v1/greetings/Ada", headers={"X-Request-Id": "abc-123"})
    assert result.headers["x-request-id"] == "abc-123"


@pytest.mark.parametrize(
    "sent",
    ["", "a" * 129, "has space", "tab\tbed", "ünïcode"],
    ids=["empty", "long", "space", "tab", "non-ascii"],
)
def test_insane_request_id_is_replaced(app: testing.TestClient, sent: str) -> None:
    """An X-Request-Id that is empty, too long or not visible ASCII is replaced."""
    result = app.simulate_get("/v1/greetings/Ada", headers={"X-Request-Id": sent})
    generated = result.headers["x-request-id"]
    assert generated != sent
    assert 1 <= len(generated) <= 128


def test_request_id_is_generated_and_unique(app: testing.TestClient) -> None:
    """Without a header each request gets its own id, in errors too."""
    first = app.simulate_get("/missing")
    second = app.simulate_get("/missing")
    assert first.json["request_id"] != second.json["request_id"]
    assert first.headers["x-request-id"] == first.json["request_id"]


def test_trailing_slash_matches_route(app: testing.TestClient) -> None:
    """/v1/greetings/Ada/ is the same resource as /v1/greetings/Ada."""
    assert app.simulate_get("/v1/greetings/Ada/").status_code == 200
