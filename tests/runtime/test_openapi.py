"""The OpenAPI 3.1 document built from typed routes, served at /openapi.json."""

from __future__ import annotations

import base64
import re
from typing import Any

import falcon
import pytest
from falcon import testing
from marshmallow import Schema, fields
from openapi_spec_validator import validate

from scaffold.runtime import DefinitionError, Service, parse_config, typed
from scaffold.runtime.passwords import hash_password

PASSWORD_HASH = hash_password("s3cret")


class _WidgetSchema(Schema):
    id = fields.Integer(required=True)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_document_is_valid_openapi_31(make_example) -> None:
    """The served document validates as OpenAPI 3.1 and describes the typed routes."""
    client = testing.TestClient(make_example().app)
    result = client.simulate_get("/openapi.json")
    assert result.status_code == 200
    doc = result.json
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    post = doc["paths"]["/v1/greetings"]["post"]
    assert set(post["responses"]) >= {"201", "400", "413", "415", "422"}
    body_schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema == {"$ref": "#/components/schemas/GreetingIn"}
    props = doc["components"]["schemas"]["GreetingIn"]["properties"]
    assert set(props) == {"name", "language", "nickName"}
    item = doc["paths"]["/v1/greetings/{name}"]
    assert item["parameters"][0]["name"] == "name"
    listing = doc["paths"]["/v1/greetings"]["get"]
    assert listing["parameters"][0]["name"] == "limit"
    assert listing["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"


def test_openapi_can_be_turned_off(make_example) -> None:
    """openapi: false serves no document."""
    service = make_example(parse_config("openapi: false", env={}))
    assert testing.TestClient(service.app).simulate_get("/openapi.json").status_code == 404


def _document(service: Service) -> dict[str, Any]:
    result = testing.TestClient(service.app).simulate_get("/openapi.json")
    assert result.status_code == 200
    validate(result.json)
    return result.json  # type: ignore[no-any-return]


def _widget_service(config: str = "") -> Service:
    # Resources are declared per service, not at import, so @typed runs as the test finds it.
    class _Widgets:
        @typed(response=_WidgetSchema, responses={404: "No widget has this id.", 409: "Sold out."})
        async def on_get(self, req: object, resp: object, wid: int) -> dict[str, int]:
            """One widget."""
            if wid > 10:
                raise falcon.HTTPNotFound(description="No widget has this id.")
            return {"id": wid}

    class _Plain:
        @typed(response=_WidgetSchema)
        async def on_get(self, req: object, resp: object, **params: object) -> dict[str, int]:
            return {"id": 1}

    service = Service("widgets", parse_config(config, env={}), version="2.3.4")
    service.add_route("/widgets/{wid:int(min=1)}", _Widgets())
    service.add_route("/things", _Plain())
    service.add_route("/by-uuid/{uid:uuid}", _Plain())
    service.add_route("/at/{when:dt}", _Plain())
    service.add_route("/on/{day:dt('%Y-%m-%d')}", _Plain())
    service.add_route("/ratio/{r:float(0, max=2.5)}", _Plain())
    service.add_route("/digits/{n:int(3)}", _Plain())
    service.add_route("/files/{rest:path}", _Plain())
    return service


def _param(doc: dict[str, Any], path: str) -> dict[str, Any]:
    (param,) = doc["paths"][path]["parameters"]
    assert param["in"] == "path" and param["required"] is True
    return param["schema"]  # type: ignore[no-any-return]


def test_path_parameters_are_typed_from_their_converters() -> None:
    """{wid:int(min=1)} is an integer >= 1, {uid:uuid} a uuid, {when:dt} a date-time, ..."""
    doc = _document(_widget_service())
    assert _param(doc, "/widgets/{wid}") == {"type": "integer", "minimum": 1}
    assert _param(doc, "/by-uuid/{uid}") == {"type": "string", "format": "uuid"}
    at = _param(doc, "/at/{when}")
    assert at["type"] == "string" and at["format"] == "date-time"
    assert re.match(at["pattern"], "2026-12-02T10:00:00Z")
    assert not re.match(at["pattern"], "2026-12-02")
    assert _param(doc, "/on/{day}") == {
        "type": "string",
        "description": "a date and time as strptime '%Y-%m-%d' reads",
    }
    assert _param(doc, "/ratio/{r}") == {"type": "number", "minimum": 0, "maximum": 2.5}
    assert _param(doc, "/digits/{n}") == {"type": "integer"}
    assert _param(doc, "/files/{rest}") == {"type": "string"}


def test_the_date_time_pattern_is_what_falcon_parses() -> None:
    """Values the documented {when:dt} pattern admits reach the responder; others are 404s."""
    service = _widget_service()
    pattern = _param(_document(service), "/at/{when}")["pattern"]
    client = testing.TestClient(service.app)
    for value in ("2026-12-02T10:00:00Z", "2026-12-02T10:00:00+01:00", "2026-12-02T10:00:00-0530"):
        assert re.match(pattern, value)
        assert client.simulate_get(f"/at/{value}").status_code == 200, value
    for value in ("2026-12-02", "2026-12-02T10:00:00.5Z"):
        assert not re.match(pattern, value)
        assert client.simulate_get(f"/at/{value}").status_code == 404, value


def test_every_status_a_route_can_answer_is_documented() -> None:
    """404 where the path has parameters, 400 everywhere, and the declared extra statuses."""
    doc = _document(_widget_service())
    widget = doc["paths"]["/widgets/{wid}"]["get"]["responses"]
    assert set(widget) == {"200", "400", "404", "406", "409"}
    assert widget["404"]["description"] == "No widget has this id."
    assert widget["409"]["description"] == "Sold out."
    problem = {"$ref": "#/components/schemas/Problem"}
    assert widget["409"]["content"]["application/problem+json"]["schema"] == problem
    assert set(doc["paths"]["/things"]["get"]["responses"]) == {"200", "400", "406"}
    assert "401" not in widget and "security" not in doc
    client = testing.TestClient(_widget_service().app)
    assert client.simulate_get("/widgets/0").status_code == 404  # below min: no route
    assert client.simulate_get("/widgets/11").status_code == 404  # the responder's own
    assert client.simulate_get("/things", headers={"Accept": "text/csv"}).status_code == 406
    assert client.simulate_get("/things?x=%ff").status_code == 400


def test_basic_auth_documents_a_scheme_and_401() -> None:
    """With auth.basic on, an http/basic scheme applies to the API and every operation has 401."""
    config = f"auth: {{basic: {{users: {{alice: '{PASSWORD_HASH}'}}}}}}"
    service = _widget_service(config)
    doc = (
        testing.TestClient(service.app)
        .simulate_get("/openapi.json", headers={"Authorization": _basic("alice", "s3cret")})
        .json
    )
    validate(doc)
    assert doc["components"]["securitySchemes"] == {"basic": {"type": "http", "scheme": "basic"}}
    assert doc["security"] == [{"basic": []}]
    for item in doc["paths"].values():
        assert "401" in item["get"]["responses"]
    assert testing.TestClient(service.app).simulate_get("/things").status_code == 401


def test_max_in_flight_documents_503() -> None:
    """A worker that sheds load can answer 503 on any route."""
    doc = _document(_widget_service("server: {max_in_flight: 8}"))
    assert all("503" in item["get"]["responses"] for item in doc["paths"].values())


def test_info_version_is_the_services() -> None:
    """info.version is the version the service states."""
    assert _document(_widget_service())["info"]["version"] == "2.3.4"


@pytest.mark.parametrize(
    ("responses", "problem"),
    [
        ({200: "fine"}, "keys are 4xx or 5xx status codes, not 200"),
        ({"404": "gone"}, "keys are 4xx or 5xx status codes, not '404'"),
        ({True: "yes"}, "keys are 4xx or 5xx status codes, not True"),
        ({409: ""}, "responses={409: ...} needs a description"),
    ],
)
def test_bad_responses_are_refused_at_import(responses: dict[Any, str], problem: str) -> None:
    """A declaration that cannot be documented fails where it is written."""
    with pytest.raises(DefinitionError, match=re.escape(problem)):

        class _Bad:
            @typed(responses=responses)
            async def on_get(self, req: object, resp: object) -> None:
                return None
