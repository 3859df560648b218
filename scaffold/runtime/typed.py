"""Typed responders: marshmallow schemas for query, body and response, with 4xx mapping."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import falcon
from marshmallow import Schema, ValidationError

from scaffold.runtime.errors import ValidationProblem
from scaffold.runtime.exceptions import DefinitionError

JSON = "application/json"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_RESPONDER_NAME = re.compile(r"^on_(get|head|post|put|patch|delete|options)(?:_\w+)?$")
_READ_CHUNK = 64 * 1024

F = TypeVar("F", bound=Callable[..., Any])
SchemaArg = Schema | type[Schema] | None


@dataclass(frozen=True)
class TypedSpec:
    """What a typed responder declares; read by the router, OpenAPI and ``scaffold routes``."""

    method: str
    request: Schema | None
    response: Schema | None
    query: Schema | None
    status: int
    many: bool


def _schema(value: SchemaArg, role: str, name: str) -> Schema | None:
    if value is None:
        return None
    if isinstance(value, type) and issubclass(value, Schema):
        return value()
    if isinstance(value, Schema):
        return value
    msg = f"{name}: {role}= must be a marshmallow Schema class or instance, not {value!r}"
    raise DefinitionError(msg)


def typed(
    *,
    request: SchemaArg = None,
    response: SchemaArg = None,
    query: SchemaArg = None,
    status: int = 200,
    many: bool = False,
) -> Callable[[F], F]:
    """Declare the schemas of a Falcon responder (``on_get``, ``on_post_item``, ...).

    The responder is called as ``responder(self, req, resp, **params)`` plus ``body=``
    (the loaded request body) when ``request`` is given and ``query=`` (the loaded query
    string) when ``query`` is given. It returns the data that ``response`` dumps as JSON,
    or ``None`` for no body. ``status`` is the success status.

    Args:
        request: Schema of the JSON body (POST, PUT and PATCH only).
        response: Schema of the JSON response.
        query: Schema of the query string parameters.
        status: Status code of a successful response.
        many: The response is a list of ``response`` objects.

    Raises:
        DefinitionError: At import time, for a declaration that cannot work.
    """

    def decorate(func: F) -> F:
        name = getattr(func, "__qualname__", repr(func))
        match = _RESPONDER_NAME.match(getattr(func, "__name__", ""))
        if not match:
            msg = f"{name}: @typed goes on a responder named on_<method>[_<suffix>], e.g. on_get"
            raise DefinitionError(msg)
        method = match.group(1).upper()
        if not 100 <= status <= 599:
            msg = f"{name}: status={status} is not an HTTP status code"
            raise DefinitionError(msg)
        spec = TypedSpec(
            method=method,
            request=_schema(request, "request", name),
            response=_schema(response, "response", name),
            query=_schema(query, "query", name),
            status=status,
            many=many,
        )
        if spec.request is not None and method not in BODY_METHODS:
            msg = f"{name}: a {method} request has no body; request= is for POST, PUT and PATCH"
            raise DefinitionError(msg)

        @functools.wraps(func)
        def responder(
            resource: Any, req: falcon.Request, resp: falcon.Response, **params: Any
        ) -> None:
            if spec.response is not None and not req.client_accepts_json:
                raise falcon.HTTPNotAcceptable(
                    description=f"This resource answers only with {JSON}."
                )
            if spec.query is not None:
                params["query"] = _load(spec.query, dict(req.params), "query string")
            if spec.request is not None:
                params["body"] = _load(spec.request, read_json(req), "body")
            result = func(resource, req, resp, **params)
            resp.status = spec.status
            if result is not None and spec.response is not None:
                resp.media = spec.response.dump(result, many=spec.many)
            elif result is not None:
                resp.media = result

        responder.__scaffold_typed__ = spec  # type: ignore[attr-defined]
        return responder  # type: ignore[return-value]

    return decorate


def typed_spec(responder: object) -> TypedSpec | None:
    """Return the :class:`TypedSpec` of a responder, or ``None`` if it is not typed."""
    func = getattr(responder, "__func__", responder)
    spec = getattr(func, "__scaffold_typed__", None)
    return spec if isinstance(spec, TypedSpec) else None


def read_body(req: falcon.Request) -> bytes:
    """Read the whole request body: by ``Content-Length``, or to the end of a chunked one."""
    if req.content_length is not None:
        return req.bounded_stream.read()
    if not req.env.get("wsgi.input_terminated"):
        return b""
    parts = []
    while chunk := req.stream.read(_READ_CHUNK):
        parts.append(chunk)
    return b"".join(parts)


def read_json(req: falcon.Request) -> Any:
    """Return the parsed JSON body.

    Raises:
        falcon.HTTPUnsupportedMediaType: The body is not ``application/json``.
        falcon.HTTPBadRequest: The body is empty, not UTF-8, or malformed (with line and column).
    """
    media_type = (req.content_type or "").split(";", 1)[0].strip().lower()
    if media_type != JSON:
        shown = req.content_type or "none"
        raise falcon.HTTPUnsupportedMediaType(
            description=f"The body must be {JSON}; Content-Type was {shown}."
        )
    raw = read_body(req)
    if not raw.strip():
        raise falcon.HTTPBadRequest(
            description="The request body is empty; a JSON document is required."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as ex:
        raise falcon.HTTPBadRequest(
            description=f"The body is not valid UTF-8 (byte {ex.start})."
        ) from ex
    try:
        return json.loads(text)
    except json.JSONDecodeError as ex:
        raise falcon.HTTPBadRequest(
            description=f"Malformed JSON at line {ex.lineno}, column {ex.colno}: {ex.msg}."
        ) from ex


def _load(schema: Schema, data: Any, what: str) -> Any:
    try:
        return schema.load(data)
    except ValidationError as ex:
        errors = field_errors(ex.messages)
        raise ValidationProblem(
            errors=errors, description=f"The {what} failed validation ({len(errors)} problem(s))."
        ) from ex


def field_errors(messages: Any, prefix: str | None = None) -> list[dict[str, Any]]:
    """Flatten marshmallow messages into ``[{"field": ..., "message": ...}]``.

    Field names are the keys the client sent (the schema's ``data_key``), dotted for
    nested values; ``None`` stands for the document itself.
    """
    out: list[dict[str, Any]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                path = prefix
            else:
                path = f"{prefix}.{key}" if prefix is not None else str(key)
            out.extend(field_errors(value, path))
    elif isinstance(messages, list):
        for message in messages:
            if isinstance(message, (dict, list)):
                out.extend(field_errors(message, prefix))
            else:
                out.append({"field": prefix, "message": str(message)})
    else:
        out.append({"field": prefix, "message": str(messages)})
    return out
