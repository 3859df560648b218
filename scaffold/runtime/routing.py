"""Falcon's compiled router with our method mapping: typed and plain responders, HEAD from GET.

Every responder becomes a coroutine function, as Falcon's ASGI app requires: ``@typed`` ones
through :func:`~scaffold.runtime.typed.typed_responder`, other plain ``def`` responders run on
the worker's thread pool, ``async def`` ones are used as they are.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Any

import falcon
import falcon.asgi
from falcon.routing import CompiledRouter, map_http_methods

from scaffold.runtime.guards import Check, declared_guards, guarded
from scaffold.runtime.hosts import HostPattern, normalize_host
from scaffold.runtime.threadpool import ThreadPool
from scaffold.runtime.typed import typed_responder, typed_spec


@dataclass(frozen=True)
class RouteInfo:
    """One route as ``scaffold run`` and ``scaffold routes`` print it."""

    template: str
    methods: tuple[str, ...]
    resource: str
    suffix: str | None = None
    resource_object: object = field(default=None, compare=False, repr=False)
    host: str | None = None
    guards: tuple[str, ...] = ()
    checks: tuple[Check, ...] = field(default=(), compare=False, repr=False)


def allowed_methods(method_map: dict[str, Any]) -> list[str]:
    """The sorted ``Allow`` list for a route: its methods, HEAD with GET, and OPTIONS."""
    methods = set(method_map) | {"OPTIONS"}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def _options_responder(allow: str) -> Any:
    async def on_options(req: falcon.asgi.Request, resp: falcon.asgi.Response, **kw: Any) -> None:
        resp.status = falcon.HTTP_204
        resp.set_header("Allow", allow)

    return on_options


def _not_allowed_responder(allow: list[str]) -> Any:
    async def on_not_allowed(
        req: falcon.asgi.Request, resp: falcon.asgi.Response, **kw: Any
    ) -> None:
        raise falcon.HTTPMethodNotAllowed(
            allow,
            description=f"{req.method} is not allowed here; use one of {', '.join(allow)}.",
        )

    return on_not_allowed


def _on_pool(responder: Any, pool: ThreadPool) -> Any:
    """Run a plain Falcon responder on the worker's thread pool."""

    async def serve(req: falcon.asgi.Request, resp: falcon.asgi.Response, **params: Any) -> None:
        await pool.run(responder, req, resp, **params)

    return functools.update_wrapper(serve, responder)


def as_coroutine(responder: Any, pool: ThreadPool) -> Any:
    """``responder`` as the coroutine function Falcon's ASGI app calls."""
    spec = typed_spec(responder)
    if spec is not None:
        return typed_responder(spec, responder, pool)
    if inspect.iscoroutinefunction(responder):
        return responder
    return _on_pool(responder, pool)


class Router(CompiledRouter):
    """Map responders so that HEAD answers like GET and every 405 lists the right methods.

    Routes added for a virtual host live in a router of their own, searched first when the
    request's ``Host`` matches (exact names before wildcards); then the routes that serve
    every host.

    Args:
        pool: Where plain (``def``) responders run.
    """

    def __init__(self, pool: ThreadPool) -> None:
        super().__init__()
        self.pool = pool
        self.hosts: list[tuple[HostPattern, Router]] = []

    def for_host(self, pattern: HostPattern) -> Router:
        """The router of ``pattern``'s routes (made on first use)."""
        for known, router in self.hosts:
            if known == pattern:
                return router
        router = Router(self.pool)
        self.hosts.append((pattern, router))
        self.hosts.sort(key=lambda item: item[0].wildcard)  # exact names first
        return router

    def find(self, uri: str, req: Any = None) -> Any:
        """The route for ``uri``: under a matching virtual host first, then on every host."""
        if self.hosts and req is not None:
            host = normalize_host(req.get_header("Host") or "")
            for pattern, router in self.hosts:
                if pattern.matches(host):
                    route = router.find(uri, req)
                    if route is not None:
                        return route
        return super().find(uri, req)

    def map_http_methods(self, resource: object, **kwargs: Any) -> Any:
        """Map ``on_*`` responders behind their guards, then fill HEAD, OPTIONS and 405."""
        found = map_http_methods(resource, suffix=kwargs.get("suffix"))
        outer: tuple[Check, ...] = kwargs.get("guards", ())  # service and namespaces
        method_map = {}
        for method, func in found.items():
            responder = as_coroutine(func, self.pool)
            checks = (*outer, *declared_guards(resource, func))
            if method != "OPTIONS" and checks:
                responder = guarded(responder, checks, self.pool)
            method_map[method] = responder
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
