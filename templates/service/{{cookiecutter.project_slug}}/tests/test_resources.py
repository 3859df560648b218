"""The greetings API on the app port, through the `client` fixture.

`client` is a falcon.testing.TestClient on the service that create_service builds from
config.yml, with every ${VAR:-default} at its default whatever your shell holds.
"""

import pytest


def test_get_greets_by_name(client):
    """GET /v1/greetings/{name} greets in English by default."""
    result = client.simulate_get("/v1/greetings/Ada")
    assert result.status_code == 200
    assert result.json == {"greeting": "Hello, Ada!", "language": "en"}


@pytest.mark.scaffold_config({"app": {"default_language": "fr"}})
def test_default_language_comes_from_the_config(client):
    """`app.default_language` sets GET's language (the marker changes config.yml for one test)."""
    result = client.simulate_get("/v1/greetings/Ada")
    assert result.json == {"greeting": "Bonjour, Ada!", "language": "fr"}


@pytest.mark.parametrize(
    ("language", "greeting"),
    [("en", "Hello, Ada!"), ("fr", "Bonjour, Ada!"), ("es", "¡Hola, Ada!")],
    ids=["english", "french", "spanish"],
)
def test_post_greets_in_language(client, language, greeting):
    """POST /v1/greetings answers 201 in the language asked for."""
    result = client.simulate_post("/v1/greetings", json={"name": "Ada", "language": language})
    assert result.status_code == 201
    assert result.json == {"greeting": greeting, "language": language}


def test_post_defaults_to_english(client):
    """Language is optional."""
    result = client.simulate_post("/v1/greetings", json={"name": "Ada"})
    assert result.json == {"greeting": "Hello, Ada!", "language": "en"}


def test_post_rejects_invalid_body(client):
    """An empty name and an unknown language are both reported, by field."""
    result = client.simulate_post("/v1/greetings", json={"name": "", "language": "de"})
    assert result.status_code == 422
    assert result.headers["content-type"] == "application/problem+json"
    assert sorted(e["field"] for e in result.json["errors"]) == ["language", "name"]


def test_unknown_path_is_problem_json(client):
    """Unknown paths answer 404 in the one error envelope."""
    result = client.simulate_get("/v1/nothing-here")
    assert result.status_code == 404
    assert result.json["status"] == 404
