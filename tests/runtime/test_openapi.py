"""The OpenAPI 3.1 document built from typed routes, served at /openapi.json."""

from __future__ import annotations

from falcon import testing
from openapi_spec_validator import validate

from scaffold.runtime import parse_config


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
