"""Declarations that cannot work fail when the service is built, not at request time."""

from __future__ import annotations

import pytest
from marshmallow import Schema, fields

from scaffold.runtime import DefinitionError, Service, typed


class Body(Schema):
    name = fields.String()


@pytest.mark.parametrize("method", ["get", "head", "delete", "options"])
def test_body_schema_on_bodiless_method(method: str) -> None:
    """request= on GET, HEAD, DELETE or OPTIONS is refused at declaration."""

    def responder(self, req, resp):  # pragma: no cover - never called
        return None

    responder.__name__ = f"on_{method}"
    with pytest.raises(DefinitionError, match="has no body"):
        typed(request=Body)(responder)


@pytest.mark.parametrize("role", ["request", "response", "query"])
def test_not_a_schema(role: str) -> None:
    """A schema argument that is not a marshmallow Schema is refused."""
    with pytest.raises(DefinitionError, match="must be a marshmallow Schema"):

        class Resource:
            @typed(**{role: dict})
            def on_post(self, req, resp):  # pragma: no cover - never called
                return None


def test_typed_needs_a_responder_name() -> None:
    """@typed on a function that is not on_<method> is refused."""
    with pytest.raises(DefinitionError, match="on_<method>"):

        @typed(response=Body)
        def handle(self, req, resp):  # pragma: no cover - never called
            return None


def test_bad_status() -> None:
    """A status outside 100..599 is refused."""
    with pytest.raises(DefinitionError, match="status=42"):

        class Resource:
            @typed(status=42)
            def on_get(self, req, resp):  # pragma: no cover - never called
                return None


def test_schema_class_or_instance() -> None:
    """A schema may be given as a class or an instance."""

    class Resource:
        @typed(request=Body(), response=Body)
        def on_post(self, req, resp, body):
            return body

    Service("x").add_route("/r", Resource())


def test_duplicate_route() -> None:
    """The same template twice is refused."""

    class Resource:
        def on_get(self, req, resp):  # pragma: no cover - never called
            return None

    service = Service("x")
    service.add_route("/things", Resource())
    with pytest.raises(DefinitionError, match="already defined"):
        service.namespace("/things").add_route("/", Resource())


def test_resource_without_responders() -> None:
    """A resource with no on_<method> is refused."""
    with pytest.raises(DefinitionError, match="no on_<method>"):
        Service("x").add_route("/nothing", object())


def test_template_must_start_with_slash() -> None:
    """Route templates are absolute."""

    class Resource:
        def on_get(self, req, resp):  # pragma: no cover - never called
            return None

    with pytest.raises(DefinitionError, match="must start with '/'"):
        Service("x").add_route("things", Resource())


def test_duplicate_health_check() -> None:
    """Health check names are unique."""
    service = Service("x")
    service.add_health_check("db", lambda: True)
    with pytest.raises(DefinitionError, match="already registered"):
        service.add_health_check("db", lambda: True)


def test_namespaces_nest_and_list_routes() -> None:
    """Namespaces prefix templates; routes() lists methods with HEAD and OPTIONS."""

    class Resource:
        def on_get(self, req, resp):  # pragma: no cover - never called
            return None

    service = Service("x")
    service.namespace("/v1").namespace("/admin").add_route("/users", Resource())
    (route,) = service.routes()
    assert route.template == "/v1/admin/users"
    assert route.methods == ("GET", "HEAD", "OPTIONS")
