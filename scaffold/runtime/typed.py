"""Typed responders: marshmallow schemas for query, body and response, with 4xx mapping."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import falcon
import falcon.asgi
from marshmallow import Schema, ValidationError

from scaffold.runtime.errors import ValidationProblem
from scaffold.runtime.exceptions import DefinitionError
from scaffold.runtime.jsonio import (
    JSON,
    DuplicateKeyError,
    JSONDecodeError,
    dumps,
    loads_request,
)
from scaffold.runtime.schemaplan import SchemaPlan
from scaffold.runtime.threadpool import ThreadPool

if TYPE_CHECKING:
    from scaffold.runtime.context import Request

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Accept headers that need no parsing to know JSON is fine (absent means anything).
_ANY_OR_JSON = frozenset({None, b"*/*", JSON.encode()})
_RESPONDER_NAME = re.compile(r"^on_(get|head|post|put|patch|delete|options)(?:_\w+)?$")

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
    responses: tuple[tuple[int, str], ...] = ()


def _responses(value: Mapping[int, str], name: str) -> tuple[tuple[int, str], ...]:
    for code, why in value.items():
        if not isinstance(code, int) or isinstance(code, bool) or not 400 <= code <= 599:
            msg = f"{name}: responses= keys are 4xx or 5xx status codes, not {code!r}"
            raise DefinitionError(msg)
        if not isinstance(why, str) or not why.strip():
            msg = f"{name}: responses={{{code}: ...}} needs a description (a non-empty str)"
            raise DefinitionError(msg)
    return tuple(sorted(value.items()))


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
    responses: Mapping[int, str] | None = None,
) -> Callable[[F], F]:
    """Declare the schemas of a Falcon responder (``on_get``, ``on_post_item``, ...).

    The responder is called as ``responder(self, req, resp, **params)`` plus ``body=``
    (the loaded request body) when ``request`` is given and ``query=`` (the loaded query
    string) when ``query`` is given. It returns the data that ``response`` dumps as JSON,
    or ``None`` for no body. ``status`` is the success status.

    A plain ``def`` responder runs on the worker's thread pool (``server.threads``), so it
    may block (a database driver, a file); an ``async def`` one runs on the event loop and
    must never block. Validation and the JSON work run on the loop either way.

    Args:
        request: Schema of the JSON body (POST, PUT and PATCH only).
        response: Schema of the JSON response.
        query: Schema of the query string parameters.
        status: Status code of a successful response.
        many: The response is a list of ``response`` objects.
        responses: Further error statuses the responder answers (by raising
            ``falcon.HTTPError``), each with why, e.g. ``{404: "no such widget"}``; the
            OpenAPI document lists them with the problem+json schema.

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
            responses=_responses(responses or {}, name),
        )
        if spec.request is not None and method not in BODY_METHODS:
            msg = f"{name}: a {method} request has no body; request= is for POST, PUT and PATCH"
            raise DefinitionError(msg)
        func.__scaffold_typed__ = spec  # type: ignore[attr-defined]
        return func

    return decorate


def typed_spec(responder: object) -> TypedSpec | None:
    """Return the :class:`TypedSpec` of a responder, or ``None`` if it is not typed."""
    func = getattr(responder, "__func__", responder)
    spec = getattr(func, "__scaffold_typed__", None)
    return spec if isinstance(spec, TypedSpec) else None


def typed_responder(spec: TypedSpec, responder: Callable[..., Any], pool: ThreadPool) -> Any:
    """The Falcon responder that serves ``responder`` (a bound method) as ``spec`` declares.

    It negotiates, loads and validates on the event loop, calls ``responder`` (awaited when
    it is ``async def``, else on ``pool``), and dumps the result as JSON. Schemas load and
    dump through their :class:`~scaffold.runtime.schemaplan.SchemaPlan` where they have one.
    """
    response, query, request = _loader(spec.response), _loader(spec.query), _loader(spec.request)
    status, many = spec.status, spec.many
    blocking = not inspect.iscoroutinefunction(responder)

    async def serve(req: Request, resp: falcon.asgi.Response, **params: Any) -> None:
        if (
            response is not None
            and req.raw_header(b"accept") not in _ANY_OR_JSON
            and not req.client_accepts_json
        ):
            raise falcon.HTTPNotAcceptable(description=f"This resource answers only with {JSON}.")
        if query is not None:
            params["query"] = _load(query, dict(req.params), "query string")
        if request is not None:
            params["body"] = _load(request, await read_json(req), "body")
        if blocking:
            result = await pool.run(responder, req, resp, **params)
        else:
            result = await responder(req, resp, **params)
        resp.status = status
        if result is not None:
            resp.data = dumps(result if response is None else response.dump(result, many=many))
            resp.content_type = JSON

    functools.update_wrapper(serve, responder)
    serve.__scaffold_typed__ = spec  # type: ignore[attr-defined]
    return serve


async def read_json(req: falcon.asgi.Request) -> Any:
    """Read and parse the JSON body.

    Raises:
        falcon.HTTPUnsupportedMediaType: The body is not ``application/json``.
        falcon.HTTPBadRequest: The body is empty, not UTF-8, malformed (with line and column),
            or gives a key twice in one object.
        falcon.HTTPContentTooLarge: The body is larger than ``server.max_body_bytes``.
    """
    media_type = (req.content_type or "").split(";", 1)[0].strip().lower()
    if media_type != JSON:
        shown = req.content_type or "none"
        raise falcon.HTTPUnsupportedMediaType(
            description=f"The body must be {JSON}; Content-Type was {shown}."
        )
    raw = await req.stream.read()
    if not raw.strip():
        raise falcon.HTTPBadRequest(
            description="The request body is empty; a JSON document is required."
        )
    try:
        return loads_request(raw)
    except DuplicateKeyError as ex:
        raise falcon.HTTPBadRequest(
            description=f"The body gives the key {ex.key!r} twice in one object."
        ) from ex
    except JSONDecodeError as ex:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            raise falcon.HTTPBadRequest(
                description=f"The body is not valid UTF-8 (byte {bad.start})."
            ) from ex
        raise falcon.HTTPBadRequest(
            description=f"Malformed JSON at line {ex.lineno}, column {ex.colno}: {ex.msg}."
        ) from ex


def _loader(schema: Schema | None) -> Schema | SchemaPlan | None:
    """The schema's :class:`SchemaPlan` (same results, faster), or the schema itself."""
    if schema is None:
        return None
    return SchemaPlan.for_schema(schema) or schema


def _load(schema: Schema | SchemaPlan, data: Any, what: str) -> Any:
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
