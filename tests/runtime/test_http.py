"""HTTP behaviour of the app port (DESIGN 4.4), one test per status code, via falcon.testing."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

import falcon
import pytest
from asgiclient import call_asgi
from falcon import testing
from marshmallow import Schema, ValidationError, fields, post_load, validates_schema

from scaffold.runtime import Service, ValidationProblem, typed
from scaffold.runtime.errors import problem_body

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
    doc = assert_problem(result, 406)
    assert doc["detail"] == "This resource answers only with application/json."


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
    doc = assert_problem(result, 415)
    assert doc["detail"] == (
        f"The body must be application/json; Content-Type was {content_type or 'none'}."
    )


@pytest.mark.parametrize(
    "content_type",
    ["application/json; charset=utf-8", "Application/JSON ; charset=utf-8; q=1"],
    ids=["one-parameter", "two-parameters-any-case"],
)
def test_content_type_parameters_are_allowed(app: testing.TestClient, content_type: str) -> None:
    """application/json with parameters (any case, any number) is still JSON."""
    result = app.simulate_post(
        "/v1/greetings", body='{"name": "Ada"}', headers={"Content-Type": content_type}
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
    doc = assert_problem(result, 400)
    assert doc["detail"] == "The request body is empty; a JSON document is required."


def test_422_one_entry_per_field_named_as_sent(app: testing.TestClient) -> None:
    """Schema failures list each field by the key the client sent (data_key)."""
    result = app.simulate_post("/v1/greetings", json={"name": "", "language": "de", "nickName": 5})
    doc = assert_problem(result, 422)
    assert doc["title"] == "Unprocessable Content"
    assert doc["detail"] == "The body failed validation (3 problem(s))."
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
    assert doc["detail"] == "The query string failed validation (1 problem(s))."


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
    assert json.loads(content)["detail"] == "The request body is larger than the limit of 64 bytes."


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
    assert doc["detail"] == (
        "The server hit an unexpected error; quote the request_id when reporting it."
    )
    assert "Traceback" not in result.text
    assert "do-not-leak" not in result.text
    [record] = caplog.records
    assert record.getMessage() == "unhandled RuntimeError in GET /broken (request_id=trace-me-42)"
    assert "do-not-leak" in str(record.exc_info[1])


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
    assert re.fullmatch("[0-9a-f]{32}", generated)  # like a W3C trace id


def test_request_id_is_generated_and_unique(app: testing.TestClient) -> None:
    """Without a header each request gets its own id, in errors too."""
    first = app.simulate_get("/missing")
    second = app.simulate_get("/missing")
    assert first.json["request_id"] != second.json["request_id"]
    assert first.headers["x-request-id"] == first.json["request_id"]


def test_trailing_slash_matches_route(app: testing.TestClient) -> None:
    """/v1/greetings/Ada/ is the same resource as /v1/greetings/Ada."""
    assert app.simulate_get("/v1/greetings/Ada/").status_code == 200


class Refusals:
    """Responders that raise the errors a service may raise itself."""

    async def on_get(self, req: object, resp: object, kind: str) -> None:
        if kind == "titled":
            raise falcon.HTTPForbidden(title="Quota exceeded", description="Try tomorrow.")
        if kind == "plain":
            raise falcon.HTTPForbidden()
        if kind == "unknown":
            raise falcon.HTTPError(599)
        raise ValidationProblem(errors=[{"field": "kind", "message": "No such kind."}])


@pytest.mark.parametrize(
    ("kind", "status", "title", "detail", "errors"),
    [
        ("titled", 403, "Quota exceeded", "Try tomorrow.", None),
        ("plain", 403, "Forbidden", "Forbidden", None),
        ("unknown", 599, "Unknown", "Unknown", None),
        (
            "invalid",
            422,
            "Unprocessable Content",
            "The request is invalid.",
            [{"field": "kind", "message": "No such kind."}],
        ),
    ],
    ids=["custom-title", "default-title", "unregistered-status", "validation-problem"],
)
def test_errors_a_service_raises_keep_their_title_and_detail(
    kind: str, status: int, title: str, detail: str, errors: list[dict[str, str]] | None
) -> None:
    """A title the service gives is kept; otherwise the RFC 9110 phrase; detail defaults to it."""
    service = Service("x")
    service.add_route("/refuse/{kind}", Refusals())
    doc = assert_problem(testing.TestClient(service.app).simulate_get(f"/refuse/{kind}"), status)
    assert (doc["title"], doc["detail"], doc.get("errors")) == (title, detail, errors)


def test_problem_body_for_answers_made_outside_falcon() -> None:
    """The worker's own refusals (before Falcon) use the same problem+json envelope."""
    assert json.loads(problem_body(431, "Headers are too large.", "rid-1")) == {
        "type": "about:blank",
        "title": "Request Header Fields Too Large",
        "status": 431,
        "detail": "Headers are too large.",
        "request_id": "rid-1",
    }
    assert json.loads(problem_body(413, "Too big.", None))["title"] == "Content Too Large"


class _Visible(Schema):
    name = fields.String()


class _Shouting(Schema):
    """A schema with a hook, which marshmallow itself must run (no SchemaPlan for it)."""

    name = fields.String(required=True)

    @post_load
    def shout(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {"name": data["name"].upper()}


def test_the_response_schema_decides_what_is_sent() -> None:
    """With a response schema only its fields are sent; without one, the data as returned."""

    class Person:
        @typed(response=_Visible)
        async def on_get(self, req: object, resp: object) -> dict[str, str]:
            return {"name": "Ada", "password": "hunter2"}

    class Raw:
        @typed()
        async def on_get(self, req: object, resp: object) -> dict[str, int]:
            return {"answer": 42}

    service = Service("x")
    service.add_route("/person", Person())
    service.add_route("/raw", Raw())
    client = testing.TestClient(service.app)
    assert client.simulate_get("/person").json == {"name": "Ada"}
    raw = client.simulate_get("/raw")
    assert (raw.json, raw.headers["content-type"]) == ({"answer": 42}, "application/json")


def test_schemas_with_hooks_load_through_marshmallow() -> None:
    """A schema the fast path cannot follow (a post_load hook) still loads and validates."""

    class Greeter:
        @typed(request=_Shouting, response=_Visible, status=201)
        async def on_post(self, req: object, resp: object, body: dict[str, str]) -> dict[str, str]:
            return body

    service = Service("x")
    service.add_route("/greet", Greeter())
    client = testing.TestClient(service.app)
    assert client.simulate_post("/greet", json={"name": "ada"}).json == {"name": "ADA"}
    assert client.simulate_post("/greet", json={}).status_code == 422


class _Address(Schema):
    city = fields.String()
    zip = fields.String()

    @validates_schema
    def _agree(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("city") == "Paris" and not data.get("zip", "").startswith("75"):
            raise ValidationError("City and zip disagree.")


class _Order(Schema):
    address = fields.Nested(_Address)
    items = fields.List(fields.Dict())
    note = fields.String()

    @validates_schema
    def _stock(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("items"):
            raise ValidationError(
                {"items": [{"sku": "Unknown sku."}, ["Out of stock."]], "note": "Too long."}
            )


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"address": {"city": "Paris", "zip": "13001"}},
            [{"field": "address", "message": "City and zip disagree."}],
        ),
        (
            {"items": [{"sku": "x"}], "note": "n"},
            [
                {"field": "items.sku", "message": "Unknown sku."},
                {"field": "items", "message": "Out of stock."},
                {"field": "note", "message": "Too long."},
            ],
        ),
    ],
    ids=["nested-schema-wide", "schema-wide-shapes"],
)
def test_422_names_fields_however_validators_nest_their_messages(
    body: dict[str, Any], errors: list[dict[str, str]]
) -> None:
    """A nested schema's own error is named after its field; lists and plain strings too."""

    class Orders:
        @typed(request=_Order, status=204)
        async def on_post(self, req: object, resp: object, body: dict[str, Any]) -> None:
            return None

    service = Service("x")
    service.add_route("/orders", Orders())
    doc = assert_problem(testing.TestClient(service.app).simulate_post("/orders", json=body), 422)
    assert doc["errors"] == errors
