"""Bare Falcon WSGI: the two endpoints as plain responders, nothing else (for gthread)."""

from __future__ import annotations

from typing import Any

import falcon

LANGUAGES = {"en": "Hello, {name}!", "fr": "Bonjour, {name}!", "es": "¡Hola, {name}!"}


class GreetingItem:
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        resp.media = {"greeting": f"Hello, {name}!", "language": "en"}


class GreetingCollection:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body: Any = req.get_media()
        name = body.get("name") if isinstance(body, dict) else None
        language = body.get("language", "en") if isinstance(body, dict) else None
        if not isinstance(name, str) or not 1 <= len(name) <= 100 or language not in LANGUAGES:
            raise falcon.HTTPUnprocessableEntity()
        resp.status = falcon.HTTP_201
        resp.media = {"greeting": LANGUAGES[language].format(name=name), "language": language}


app = falcon.App()
app.add_route("/v1/greetings", GreetingCollection())
app.add_route("/v1/greetings/{name}", GreetingItem())
