"""Falcon's compiled router with our method mapping: HEAD from GET, sorted ``Allow``."""

from __future__ import annotations

from typing import Any

import falcon
from falcon.routing import CompiledRouter, map_http_methods


def allowed_methods(method_map: dict[str, Any]) -> list[str]:
    """The sorted ``Allow`` list for a route: its methods, HEAD with GET, and OPTIONS."""
    methods = set(method_map) | {"OPTIONS"}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _options_responder(allow: str) -> Any:
    def on_options(req: falcon.Request, resp: falcon.Response, **kwargs: Any) -> None:
        resp.status = falcon.HTTP_204
        resp.set_header("Allow", allow)

    return on_options


def _not_allowed_responder(allow: list[str]) -> Any:
    def on_not_allowed(req: falcon.Request, resp: falcon.Response, **kwargs: Any) -> None:
        raise falcon.HTTPMethodNotAllowed(
            allow,
            description=f"{req.method} is not allowed here; use one of {', '.join(allow)}.",
        )

    return on_not_allowed


class Router(CompiledRouter):
    """Map responders so that HEAD answers like GET and every 405 lists the right methods."""

    def map_http_methods(self, resource: object, **kwargs: Any) -> Any:
        """Map ``on_*`` responders, then fill HEAD, OPTIONS and 405 responders."""
        method_map = dict(map_http_methods(resource, suffix=kwargs.get("suffix")))
        if "GET" in method_map and "HEAD" not in method_map:
            method_map["HEAD"] = method_map["GET"]
        allow = allowed_methods(method_map)
        if "OPTIONS" not in method_map:
            method_map["OPTIONS"] = _options_responder(", ".join(allow))
        not_allowed = _not_allowed_responder(allow)
        for method in falcon.COMBINED_METHODS:
            method_map.setdefault(method, not_allowed)
        return method_map

    def explicit_methods(self, resource: object, suffix: str | None = None) -> list[str]:
        """The methods ``resource`` answers itself (for route tables), HEAD included."""
        method_map = map_http_methods(resource, suffix=suffix)
        return allowed_methods(method_map)
