"""The OpenAPI 3.1 document of a service, built from its typed routes."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import falcon
import falcon.asgi
import falcon.routing

from scaffold.runtime.errors import PROBLEM_JSON, status_phrase
from scaffold.runtime.guards import responder_guards
from scaffold.runtime.jsonio import JSON, dumps
from scaffold.runtime.typed import typed_spec

if TYPE_CHECKING:
    from scaffold.runtime.routing import RouteInfo

OPENAPI_VERSION = "3.1.0"
OPENAPI_PATH = "/openapi.json"
# The version a service that states none is documented under.
DEFAULT_VERSION = "0.0.0"
BASIC_SCHEME = "basic"
# A route field: {name}, {name:converter} or {name:converter(args)}, as Falcon reads it.
_FIELD = re.compile(r"{(?P<name>\w+)(?::(?P<converter>\w+)(?:\((?P<args>[^}]*)\))?)?}")
# Positional argument names of Falcon's converters, in order.
_CONVERTER_ARGS = {
    "int": ("num_digits", "min", "max"),
    "float": ("min", "max", "finite"),
    "dt": ("format_string",),
}
# Falcon's own default for {x:dt}, read from the converter so the two never disagree.
DEFAULT_DT_FORMAT: str = (
    inspect.signature(falcon.routing.DateTimeConverter).parameters["format_string"].default
)
_DEFAULT_DT_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:?\d{2})$"

_PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "request_id": {"type": ["string", "null"]},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "required": ["type", "title", "status"],
}


def _problem(code: int, why: str = "") -> dict[str, Any]:
    return {
        "description": why or status_phrase(code),
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _schema_name(schema: Any) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    return name[: -len("Schema")] if name.endswith("Schema") and name != "Schema" else name


def build_openapi(
    title: str,
    routes: Sequence[RouteInfo],
    *,
    version: str | None = None,
    basic_auth: bool = False,
    sheds_load: bool = False,
) -> dict[str, Any]:
    """Return the OpenAPI document (a dict) of an app port's ``routes``.

    Args:
        title: The service's name.
        routes: Its routes (:meth:`Service.routes`).
        version: The service's version (``0.0.0`` when it states none).
        basic_auth: Basic auth guards every route (401 and an ``http``/``basic`` scheme).
        sheds_load: ``max_in_flight`` is set (503 on every route).

    Every operation lists each status it can answer: its success status; 400 for a request
    target that does not decode; 404 when its path has parameters (a value the converter
    refuses matches no route); 401 when Basic auth is on; 503 when ``max_in_flight`` is set;
    and what its typed declaration implies (406, 413, 415, 422) or names (``responses=``).
    """
    # apispec is imported when a document is first asked for: most workers never serve one,
    # and it would cost each of them a few MiB.
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec(
        title=title,
        version=version or DEFAULT_VERSION,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
        **({"security": [{BASIC_SCHEME: []}]} if basic_auth else {}),
    )
    spec.components.schema("Problem", _PROBLEM_SCHEMA)
    if basic_auth:
        spec.components.security_scheme(BASIC_SCHEME, {"type": "http", "scheme": "basic"})
    common = [400]
    if basic_auth:
        common.append(401)
    if sheds_load:
        common.append(503)
    documented: set[str] = set()
    hosts: dict[str, str] = {}
    # Routes that serve every host first: a path also served for one host is documented once.
    for route in sorted(routes, key=lambda r: r.host is not None):
        fields = list(_FIELD.finditer(route.template))
        path = _FIELD.sub(r"{\g<name>}", route.template)
        path_params = [
            {"name": f["name"], "in": "path", "required": True, "schema": _param_schema(f)}
            for f in fields
        ]
        statuses = [*common, 404] if fields else common
        operations: dict[str, Any] = {}
        for method in route.methods:
            if method in ("HEAD", "OPTIONS"):
                continue
            responder = _responder(route.resource_object, method, route.suffix)
            checks = (*route.checks, *responder_guards(responder))
            operations[method.lower()] = _operation(responder, statuses, _guard_responses(checks))
        if operations and path not in documented:
            documented.add(path)
            if route.host:
                hosts[path] = route.host
            spec.path(path=path, operations=operations, parameters=path_params or None)
    document = spec.to_dict()
    for path, host in hosts.items():
        document["paths"][path]["x-host"] = host  # served only for this Host
    return document


def _param_schema(field: re.Match[str]) -> dict[str, Any]:
    """The JSON schema of a path parameter, from its Falcon converter and arguments."""
    converter = field["converter"]
    args = _converter_args(field["args"], _CONVERTER_ARGS.get(converter or "", ()))
    if converter == "int":
        schema: dict[str, Any] = {"type": "integer"}
    elif converter == "float":
        schema = {"type": "number"}
    elif converter == "uuid":
        return {"type": "string", "format": "uuid"}
    elif converter == "dt":
        fmt = args.get("format_string", DEFAULT_DT_FORMAT)
        if fmt == DEFAULT_DT_FORMAT:
            return {"type": "string", "format": "date-time", "pattern": _DEFAULT_DT_PATTERN}
        return {"type": "string", "description": f"a date and time as strptime {fmt!r} reads"}
    else:
        return {"type": "string"}
    for arg, keyword in (("min", "minimum"), ("max", "maximum")):
        if isinstance(args.get(arg), int | float):
            schema[keyword] = args[arg]
    return schema


def _converter_args(argstr: str | None, names: tuple[str, ...]) -> dict[str, Any]:
    """The literal arguments of ``{x:int(min=1)}``, by name; ``{}`` when they are not literals."""
    if not argstr:
        return {}
    try:
        call = ast.parse(f"f({argstr})", mode="eval").body
        assert isinstance(call, ast.Call)
        values = dict(zip(names, (ast.literal_eval(a) for a in call.args), strict=False))
        values.update({k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg})
    except (SyntaxError, ValueError, TypeError, AssertionError):
        return {}
    return values


def _responder(resource: object, method: str, suffix: str | None) -> Any:
    name = f"on_{method.lower()}" + (f"_{suffix}" if suffix else "")
    return getattr(resource, name, None)


def _guard_responses(checks: Sequence[object]) -> dict[int, str]:
    """The statuses guard checks declare (``check.responses = {403: "why"}``)."""
    declared: dict[int, str] = {}
    for check in checks:
        declared.update(getattr(check, "responses", None) or {})
    return declared


def _operation(
    responder: Any, statuses: list[int], guarded: Mapping[int, str] | None = None
) -> dict[str, Any]:
    spec = typed_spec(responder)
    responses: dict[str, Any] = {}
    operation: dict[str, Any] = {"responses": responses}
    doc = (getattr(responder, "__doc__", None) or "").strip()
    if doc:
        operation["summary"] = doc.splitlines()[0]
    if spec is None:
        responses["200"] = {"description": "OK"}
        for code, why in sorted((guarded or {}).items()):
            responses[str(code)] = _problem(code, why)
        responses["default"] = _problem(500) | {"description": "Error"}
        return operation
    success: dict[str, Any] = {"description": status_phrase(spec.status)}
    errors = dict.fromkeys(statuses, "")
    if spec.response is not None:
        schema: Any = spec.response
        if spec.many:
            schema = {"type": "array", "items": schema}
        success["content"] = {JSON: {"schema": schema}}
        errors[406] = ""
    if spec.query is not None:
        operation["parameters"] = [{"in": "query", "schema": spec.query}]
        errors[422] = ""
    if spec.request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": spec.request}},
        }
        errors.update(dict.fromkeys((413, 415, 422), ""))
    errors.update(spec.responses)
    errors.update(guarded or {})
    responses[str(spec.status)] = success
    for code in sorted(errors):
        responses[str(code)] = _problem(code, errors[code])
    return operation


class OpenAPIResource:
    """``GET /openapi.json``: the document ``build()`` returns, built on first request."""

    def __init__(self, build: Callable[[], dict[str, Any]]) -> None:
        self._build = build
        self._body: bytes | None = None

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Serve the OpenAPI document."""
        if self._body is None:
            self._body = dumps(self._build())
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self._body
