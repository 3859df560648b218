"""Request ids: taken from ``X-Request-Id`` when sane, otherwise generated."""

from __future__ import annotations

import contextvars
import os
import re

import falcon

HEADER = "X-Request-Id"
MAX_LENGTH = 128
_SANE = re.compile(rf"[\x21-\x7e]{{1,{MAX_LENGTH}}}")

current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "scaffold_request_id", default=None
)


def accept_request_id(value: str | None) -> str:
    """Return ``value`` when it is 1-128 visible ASCII characters, else a new id."""
    if value and _SANE.fullmatch(value):
        return value
    return os.urandom(16).hex()


class RequestIdMiddleware:
    """Give every request an id: in ``req.context.request_id``, the response, and logs."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Pick the id before anything else can fail."""
        request_id = accept_request_id(req.get_header(HEADER))
        req.context.request_id = request_id
        req.context.request_id_token = current_request_id.set(request_id)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        """Echo the id (error responses too) and clear it from the logging context."""
        request_id = getattr(req.context, "request_id", None)
        if request_id is not None:
            resp.set_header(HEADER, request_id)
        token = getattr(req.context, "request_id_token", None)
        if token is not None:
            current_request_id.reset(token)
            req.context.request_id_token = None
