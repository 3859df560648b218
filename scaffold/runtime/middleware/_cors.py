"""CORS for the app port: preflights answered before auth, headers on every allowed response."""

from __future__ import annotations

from typing import TYPE_CHECKING

import falcon
import falcon.asgi

from scaffold.runtime.config_schema import CorsConfig
from scaffold.runtime.observability import REQUEST_ID_HEADER

if TYPE_CHECKING:
    from scaffold.runtime.context import Request

PREFLIGHT_MAX_AGE = "600"


class CORSMiddleware:
    """Answer preflights and add ``Access-Control-*`` headers for the configured origins."""

    def __init__(self, config: CorsConfig) -> None:
        self.any_origin = "*" in config.allow_origins
        self.origins = frozenset(config.allow_origins)
        self.credentials = config.allow_credentials
        exposed = [*config.expose_headers, REQUEST_ID_HEADER]
        self.expose = ", ".join(dict.fromkeys(exposed))

    def allowed(self, origin: str | None) -> bool:
        """Whether ``origin`` may call the app port."""
        return origin is not None and (self.any_origin or origin in self.origins)

    def _allow_origin(self, resp: falcon.asgi.Response, origin: str) -> None:
        if self.any_origin and not self.credentials:
            resp.set_header("Access-Control-Allow-Origin", "*")
        else:
            resp.set_header("Access-Control-Allow-Origin", origin)
            resp.append_header("Vary", "Origin")
        if self.credentials:
            resp.set_header("Access-Control-Allow-Credentials", "true")

    async def process_request(self, req: Request, resp: falcon.asgi.Response) -> None:
        """Answer a preflight from an allowed origin at once (it carries no credentials)."""
        origin = req.get_header("Origin")
        method = req.get_header("Access-Control-Request-Method")
        if req.method != "OPTIONS" or method is None or not self.allowed(origin):
            return
        assert origin is not None
        self._allow_origin(resp, origin)
        resp.set_header("Access-Control-Allow-Methods", method.upper())
        requested = req.get_header("Access-Control-Request-Headers")
        if requested:
            resp.set_header("Access-Control-Allow-Headers", requested)
        resp.set_header("Access-Control-Max-Age", PREFLIGHT_MAX_AGE)
        resp.status = falcon.HTTP_204
        resp.complete = True

    async def process_response(
        self, req: Request, resp: falcon.asgi.Response, resource: object, req_succeeded: bool
    ) -> None:
        """Mark responses to allowed origins (errors too) as readable by them."""
        origin = req.get_header("Origin")
        if not self.allowed(origin) or resp.get_header("Access-Control-Allow-Origin"):
            return
        assert origin is not None
        self._allow_origin(resp, origin)
        resp.set_header("Access-Control-Expose-Headers", self.expose)
