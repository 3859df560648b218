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
    with pytest.raises(DefinitionError, match=f"responder: a {method.upper()} request has no body"):
        typed(request=Body)(responder)


@pytest.mark.parametrize("role", ["request", "response", "query"])
def test_not_a_schema(role: str) -> None:
    """A schema argument that is not a marshmallow Schema is refused, naming responder and role."""
    with pytest.raises(
        DefinitionError,
        match=rf"\.Resource\.on_post: {role}= must be a marshmallow Schema class or instance, not <class 'dict'>$",
    ):

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


@pytest.mark.parametrize("status", [99, 600, 42])
def test_bad_status(status: int) -> None:
    """A status outside 100..599 is refused, naming the responder."""
    with pytest.raises(
        DefinitionError, match=rf"\.Resource\.on_get: status={status} is not an HTTP status code$"
    ):

        class Resource:
            @typed(status=status)
            def on_get(self, req, resp):  # pragma: no cover - never called
                return None


@pytest.mark.parametrize("status", [100, 204, 599])
def test_any_http_status_may_be_declared(status: int) -> None:
    """Every status from 100 to 599 is a valid success status."""

    def on_get(self, req, resp):  # pragma: no cover - never called
        return None

    assert typed(status=status)(on_get) is on_get


@pytest.mark.parametrize(("code", "ok"), [(399, False), (400, True), (599, True), (600, False)])
def test_responses_keys_are_4xx_or_5xx(code: int, ok: bool) -> None:
    """responses= takes the codes 400 to 599 and nothing else, naming the responder if not."""

    def on_get(self, req, resp):  # pragma: no cover - never called
        return None

    declare = typed(responses={code: "why"})
    if ok:
        assert declare(on_get) is on_get
    else:
        with pytest.raises(
            DefinitionError,
            match=rf"\.on_get: responses= keys are 4xx or 5xx status codes, not {code}$",
        ):
            declare(on_get)


def test_a_callable_without_a_name_is_named_by_its_repr() -> None:
    """@typed on a callable object (no __name__) is refused, naming it by its repr."""

    class Handler:
        def __call__(self, req, resp):  # pragma: no cover - never called
            return None

        def __repr__(self) -> str:
            return "<handler>"

    with pytest.raises(DefinitionError, match=r"^<handler>: @typed goes on a responder named"):
        typed(response=Body)(Handler())


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
