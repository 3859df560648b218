"""The OpenAPI 3.1 document of a service, built from its typed routes."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import falcon
import falcon.asgi

from scaffold.runtime.errors import PROBLEM_JSON, status_phrase
from scaffold.runtime.jsonio import JSON, dumps
from scaffold.runtime.typed import typed_spec

if TYPE_CHECKING:
    from scaffold.runtime.service import Service

OPENAPI_VERSION = "3.1.0"
OPENAPI_PATH = "/openapi.json"
_PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")

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


def _problem(code: int) -> dict[str, Any]:
    return {
        "description": status_phrase(code),
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _schema_name(schema: Any) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    return name[: -len("Schema")] if name.endswith("Schema") and name != "Schema" else name


def build_openapi(service: Service, *, version: str = "0.1.0") -> dict[str, Any]:
    """Return the OpenAPI document (a dict) of ``service``'s app port."""
    # apispec is imported when a document is first asked for: most workers never serve one,
    # and it would cost each of them a few MiB.
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec(
        title=service.name,
        version=version,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
    )
    spec.components.schema("Problem", _PROBLEM_SCHEMA)
    for route in service.routes():
        path = _PARAM.sub(r"{\1}", route.template)
        path_params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PARAM.findall(route.template)
        ]
        operations: dict[str, Any] = {}
        for method in route.methods:
            if method in ("HEAD", "OPTIONS"):
                continue
            responder = _responder(route.resource_object, method, route.suffix)
            operations[method.lower()] = _operation(responder)
        if operations:
            spec.path(path=path, operations=operations, parameters=path_params or None)
    return spec.to_dict()


def _responder(resource: object, method: str, suffix: str | None) -> Any:
    name = f"on_{method.lower()}" + (f"_{suffix}" if suffix else "")
    return getattr(resource, name, None)


def _operation(responder: Any) -> dict[str, Any]:
    spec = typed_spec(responder)
    responses: dict[str, Any] = {}
    operation: dict[str, Any] = {"responses": responses}
    doc = (getattr(responder, "__doc__", None) or "").strip()
    if doc:
        operation["summary"] = doc.splitlines()[0]
    if spec is None:
        responses["200"] = {"description": "OK"}
        responses["default"] = _problem(500) | {"description": "Error"}
        return operation
    success: dict[str, Any] = {"description": status_phrase(spec.status)}
    if spec.response is not None:
        schema: Any = spec.response
        if spec.many:
            schema = {"type": "array", "items": schema}
        success["content"] = {JSON: {"schema": schema}}
        responses["406"] = _problem(406)
    responses[str(spec.status)] = success
    if spec.query is not None:
        operation["parameters"] = [{"in": "query", "schema": spec.query}]
        responses["422"] = _problem(422)
    if spec.request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": spec.request}},
        }
        for code in (400, 413, 415, 422):
            responses[str(code)] = _problem(code)
    return operation


class OpenAPIResource:
    """``GET /openapi.json``: the document, built once on first request."""

    def __init__(self, service: Service) -> None:
        self._service = service
        self._body: bytes | None = None

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Serve the OpenAPI document."""
        if self._body is None:
            self._body = dumps(build_openapi(self._service))
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self._body
