"""The HTTP resources of the example greetings API: HTTP in, the domain (greetings.py) called.

These handlers do no I/O, so they are `async def`: they run on the worker's event loop, the
fastest way to answer. A handler that calls a blocking library (a database driver, requests,
a file) must be a plain `def` instead: it then runs on the worker's thread pool
(`server.threads`) while the loop serves other requests. An `async def` handler that blocks
stalls every request of its worker until it returns.

Keep nothing in these objects from one request to the next (a dict of widgets, a cache):
each worker process has its own copy, so the next request, served by another worker, would
not see it. Keep state in a database or a cache server (README.md, "State").
"""

from typing import Any

import falcon
from scaffold.runtime import typed

from {{ cookiecutter.package_name }}.greetings import greet
from {{ cookiecutter.package_name }}.schemas import GreetingRequestSchema, GreetingSchema


class GreetingItem:
    """/v1/greetings/{name}"""

    def __init__(self, default_language: str) -> None:
        self.default_language = default_language

    @typed(response=GreetingSchema)
    async def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> dict[str, str]:
        """Greet `name` in the default language."""
        return {"greeting": greet(name, self.default_language), "language": self.default_language}


class GreetingCollection:
    """/v1/greetings"""

    @typed(request=GreetingRequestSchema, response=GreetingSchema, status=201)
    async def on_post(
        self, req: falcon.Request, resp: falcon.Response, body: dict[str, Any]
    ) -> dict[str, str]:
        """Greet the person named in the body, in the language asked for."""
        return {"greeting": greet(body["name"], body["language"]), "language": body["language"]}
