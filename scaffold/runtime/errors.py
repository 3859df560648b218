"""One error envelope for every error: RFC 9457 ``application/problem+json``."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import falcon
import falcon.asgi
from falcon.util import misc

from scaffold.runtime.jsonio import dumps

if TYPE_CHECKING:
    from scaffold.runtime.context import Request

PROBLEM_JSON = "application/problem+json"

log = logging.getLogger("scaffold.errors")

# RFC 9110 renamed these; Python 3.11's http.HTTPStatus still has the old phrases.
_PHRASES = {
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}


def status_phrase(code: int) -> str:
    """Return the RFC 9110 reason phrase for ``code`` (``"Unknown"`` if there is none)."""
    if code in _PHRASES:
        return _PHRASES[code]
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"


class ValidationProblem(falcon.HTTPUnprocessableEntity):
    """422 with one entry per invalid field.

    Args:
        errors: ``[{"field": name, "message": text}, ...]``; ``field`` is the name as the
            client sent it, dotted for nested values, ``None`` for the body as a whole.
        description: The ``detail`` member.
    """

    def __init__(
        self, *, errors: list[dict[str, Any]], description: str = "The request is invalid."
    ) -> None:
        super().__init__(description=description)
        self.errors = errors


def problem_document(ex: falcon.HTTPError, request_id: str | None) -> dict[str, Any]:
    """Build the problem+json document for ``ex``."""
    code = ex.status_code
    title = ex.title
    if not title or title == misc.code_to_http_status(code):
        title = status_phrase(code)
    doc: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": code,
        "detail": ex.description or title,
        "request_id": request_id,
    }
    errors = getattr(ex, "errors", None)
    if errors is not None:
        doc["errors"] = errors
    return doc


def problem_body(status: int, detail: str, request_id: str | None) -> bytes:
    """The problem+json body for ``status`` with ``detail`` (for answers made outside Falcon)."""
    return dumps(problem_document(falcon.HTTPError(status, description=detail), request_id))


def serialize_problem(req: Request, resp: falcon.Response, ex: falcon.HTTPError) -> None:
    """Falcon error serializer: write ``ex`` as problem+json, whatever the client accepts."""
    resp.content_type = PROBLEM_JSON
    resp.data = dumps(problem_document(ex, req.context.request_id))


async def handle_uncaught(
    req: Request, resp: falcon.Response, ex: Exception, params: dict[str, Any]
) -> None:
    """Log an unexpected exception with its traceback; answer 500 without one."""
    log.error(
        "unhandled %s in %s %s (request_id=%s)",
        type(ex).__name__,
        req.method,
        req.path,
        req.context.request_id,
        exc_info=ex,
    )
    raise falcon.HTTPInternalServerError(
        description="The server hit an unexpected error; quote the request_id when reporting it."
    ) from ex


async def handle_route_not_found(
    req: Request, resp: falcon.Response, ex: Exception, params: dict[str, Any]
) -> None:
    """Say which path has no route (Falcon's own 404 has no detail)."""
    raise falcon.HTTPNotFound(description=f"No resource at {req.path}.") from ex


def install_error_handling(app: falcon.asgi.App[Any, Any]) -> None:
    """Make every error raised in ``app`` end as one problem+json response."""
    app.add_error_handler(Exception, handle_uncaught)
    app.add_error_handler(falcon.HTTPRouteNotFound, handle_route_not_found)
    app.set_error_serializer(serialize_problem)
