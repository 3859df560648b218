"""The admin port's app: ping, health checks, liveness and readiness."""

from __future__ import annotations

import json
import threading

from typing import Any

import falcon

from scaffold.runtime.errors import install_error_handling
from scaffold.runtime.health import HealthRegistry
from scaffold.runtime.requestid import RequestIdMiddleware
from scaffold.runtime.routing import Router


class Lifecycle:
    """Process state the admin port reports: draining flips readiness to 503."""

    def __init__(self) -> None:
        self._draining = threading.Event()

    @property
    def draining(self) -> bool:
        """Whether the process is draining before shutdown."""
        return self._draining.is_set()

    def start_draining(self) -> None:
        """Fail readiness from now on, so load balancers stop sending traffic."""
        self._draining.set()


class _Ping:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "pong"


class _HealthCheck:
    def __init__(self, registry: HealthRegistry) -> None:
        self.registry = registry

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        outcomes = self.registry.run()
        resp.content_type = falcon.MEDIA_JSON
        resp.text = json.dumps({o.name: o.as_json() for o in outcomes})
        if not all(o.healthy for o in outcomes):
            resp.status = falcon.HTTP_503


class _Live:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        resp.text = json.dumps({"live": True})


class _Ready:
    def __init__(self, registry: HealthRegistry, lifecycle: Lifecycle) -> None:
        self.registry = registry
        self.lifecycle = lifecycle

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_JSON
        if self.lifecycle.draining:
            resp.status = falcon.HTTP_503
            resp.text = json.dumps({"ready": False, "reason": "draining"})
            return
        failed = [o.name for o in self.registry.run() if o.critical and not o.healthy]
        if failed:
            resp.status = falcon.HTTP_503
            resp.text = json.dumps({"ready": False, "failed_checks": failed})
            return
        resp.text = json.dumps({"ready": True})


def build_admin_app(registry: HealthRegistry, lifecycle: Lifecycle) -> falcon.App[Any, Any]:
    """Return the admin WSGI app for one service."""
    app = falcon.App(middleware=[RequestIdMiddleware()], router=Router())
    install_error_handling(app)
    app.add_route("/ping", _Ping())
    app.add_route("/healthcheck", _HealthCheck(registry))
    app.add_route("/health/live", _Live())
    app.add_route("/health/ready", _Ready(registry, lifecycle))
    return app
