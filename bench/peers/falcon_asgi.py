"""Bare Falcon ASGI: the two endpoints with ``async def`` responders, nothing else."""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi

LANGUAGES = {"en": "Hello, {name}!", "fr": "Bonjour, {name}!", "es": "¡Hola, {name}!"}


class GreetingItem:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, name: str) -> None:
        resp.media = {"greeting": f"Hello, {name}!", "language": "en"}


class GreetingCollection:
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        body: Any = await req.get_media()
        name = body.get("name") if isinstance(body, dict) else None
        language = body.get("language", "en") if isinstance(body, dict) else None
        if not isinstance(name, str) or not 1 <= len(name) <= 100 or language not in LANGUAGES:
            raise falcon.HTTPUnprocessableEntity()
        resp.status = falcon.HTTP_201
        resp.media = {"greeting": LANGUAGES[language].format(name=name), "language": language}


app = falcon.asgi.App()
app.add_route("/v1/greetings", GreetingCollection())
app.add_route("/v1/greetings/{name}", GreetingItem())
