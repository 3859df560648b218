"""Greetings, the service's domain: plain Python, no HTTP.

The resources call it, and so may tests, tasks or a command line. The languages the service
speaks are the keys of GREETINGS: the schemas take their choices from LANGUAGES, so adding a
language here is the only change it needs.
"""

GREETINGS = {
    "en": "Hello, {name}!",
    "fr": "Bonjour, {name}!",
    "es": "¡Hola, {name}!",
}
"""How each language greets someone; {name} is replaced by their name."""

LANGUAGES = tuple(GREETINGS)
"""The languages the service speaks (request bodies and `app.default_language` are checked)."""


def greet(name: str, language: str) -> str:
    """Return the greeting of `name` in `language`, one of LANGUAGES."""
    return GREETINGS[language].format(name=name)
