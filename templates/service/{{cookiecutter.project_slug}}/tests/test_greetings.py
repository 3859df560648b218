"""The domain, without HTTP: plain functions, plain asserts."""

from {{ cookiecutter.package_name }}.greetings import LANGUAGES, greet


def test_greet_in_every_language():
    """Every language the service speaks has a greeting that names the person."""
    for language in LANGUAGES:
        assert "Ada" in greet("Ada", language)


def test_the_api_speaks_the_domains_languages(client):
    """POST accepts each of LANGUAGES: the schemas read the one list in greetings.py."""
    for language in LANGUAGES:
        result = client.simulate_post("/v1/greetings", json={"name": "Ada", "language": language})
        assert result.json["greeting"] == greet("Ada", language)
