"""The two apps the observability benchmark compares (served by gunicorn).

``observed()`` is a :class:`scaffold.runtime.Service`: request id, access log (to a file),
per-route metrics (registry + statsd over UDP). ``baseline()`` is the same falcon app,
router, error handling and body limit, without those three.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import falcon

from scaffold.runtime import Service, parse_config
from scaffold.runtime.errors import install_error_handling
from scaffold.runtime.limits import BodyLimitMiddleware
from scaffold.runtime.routing import Router


class Greeting:
    """A small JSON answer, like the generated service's GET /v1/greetings/{name}."""

    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        resp.media = {"greeting": f"Hello, {name}!", "language": "en"}


def observed() -> Any:
    """The service with access log, metrics and request id on."""
    workdir = Path(os.environ["BENCH_DIR"])
    port = os.environ["BENCH_STATSD_PORT"]
    config = parse_config(
        f"logging:\n  access_log: {workdir / 'access.log'}\n"
        f"metrics:\n  statsd:\n    host: 127.0.0.1\n    port: {port}\n    prefix: bench\n",
        env={},
    )
    service = Service("bench", config)
    service.add_route("/v1/greetings/{name}", Greeting())
    return service.app


def baseline() -> Any:
    """The same app with them off."""
    app: falcon.App[Any, Any] = falcon.App(
        middleware=[BodyLimitMiddleware(1048576)], router=Router()
    )
    app.req_options.strip_url_path_trailing_slash = True
    install_error_handling(app)
    app.add_route("/v1/greetings/{name}", Greeting())
    return app
