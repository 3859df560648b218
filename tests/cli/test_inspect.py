"""`scaffold routes` and `scaffold openapi` on a generated service."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from falcon import testing
from openapi_spec_validator import validate

from scaffold.cli import main
from scaffold.loader import load_service


def test_routes_lists_the_route_table(service_dir: Path) -> None:
    """Each route: methods, template and resource class."""
    result = CliRunner().invoke(main, ["routes"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert lines[0].split() == [
        "OPTIONS",
        "POST",
        "/v1/greetings",
        "acme_widgets.resources.GreetingCollection",
    ]
    assert lines[1].split() == [
        "GET",
        "HEAD",
        "OPTIONS",
        "/v1/greetings/{name}",
        "acme_widgets.resources.GreetingItem",
    ]


def test_openapi_writes_a_valid_document(service_dir: Path) -> None:
    """`scaffold openapi -o FILE` writes a valid OpenAPI 3.1 document of the typed routes."""
    result = CliRunner().invoke(main, ["openapi", "--output", "openapi.json"])
    assert result.exit_code == 0, result.output
    doc = json.loads((service_dir / "openapi.json").read_text())
    validate(doc)
    assert doc["info"] == {"title": "acme-widgets", "version": "0.1.0"}
    assert set(doc["paths"]) == {"/v1/greetings", "/v1/greetings/{name}"}
    assert set(doc["components"]["schemas"]) >= {"GreetingRequest", "Greeting", "Problem"}


def test_openapi_to_stdout(service_dir: Path) -> None:
    """Without --output the document goes to stdout."""
    result = CliRunner().invoke(main, ["openapi"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["openapi"] == "3.1.0"


def test_openapi_matches_the_served_document(service_dir: Path) -> None:
    """`scaffold openapi` prints what /openapi.json serves, versioned from pyproject.toml."""
    pyproject = service_dir / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.1.0"', 'version = "1.4.2"'))
    printed = CliRunner().invoke(main, ["openapi"])
    assert printed.exit_code == 0, printed.output
    served = testing.TestClient(load_service().app).simulate_get("/openapi.json")
    assert json.loads(printed.stdout) == served.json
    assert served.json["info"]["version"] == "1.4.2"
