"""Composition: guards (If/First), virtual hosts and managed objects, through falcon.testing."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import falcon
import pytest
from falcon import testing
from marshmallow import Schema, fields

from scaffold.inspect_service import route_table
from scaffold.runtime import (
    DefinitionError,
    ManagedStartError,
    Service,
    guard,
    parse_config,
    typed,
)


class Calls:
    """Checks that record their name (and thread) when run."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.threads: dict[str, str] = {}

    def passing(self, name: str, headers: dict[str, str] | None = None) -> Any:
        def check(req: Any) -> dict[str, str] | None:
            self.seen.append(name)
            self.threads[name] = threading.current_thread().name
            return headers

        check.__qualname__ = name
        return check

    def passing_async(self, name: str) -> Any:
        async def check(req: Any) -> None:
            self.seen.append(name)
            self.threads[name] = threading.current_thread().name

        check.__qualname__ = name
        return check

    def rejecting(self, name: str) -> Any:
        def check(req: Any) -> None:
            self.seen.append(name)
            raise falcon.HTTPForbidden(description=f"{name} says no.")

        check.__qualname__ = name
        check.responses = {403: f"{name} refused the request."}  # type: ignore[attr-defined]
        return check


def build(calls: Calls, *, responder_check: Any, class_check: Any) -> Service:
    @guard(class_check)
    class Item:
        @guard(responder_check)
        async def on_get(self, req: Any, resp: Any, name: str) -> None:
            calls.seen.append("responder")
            resp.media = {"name": name}

        async def on_delete(self, req: Any, resp: Any, name: str) -> None:
            calls.seen.append("delete")
            resp.status = falcon.HTTP_204

    service = Service("widgets", parse_config("cors: {allow_origins: ['https://ui.example']}"))
    service.guard(calls.passing("service-check", {"X-Service": "checked"}))
    v1 = service.namespace("/v1")
    v1.guard(calls.passing_async("v1-check"))
    admin = v1.namespace("/admin")
    admin.guard(calls.passing("admin-check"))
    admin.add_route("/items/{name}", Item())
    return service


def test_checks_run_outermost_first_and_add_headers() -> None:
    """Service, namespaces (outer to inner), class, responder; then the responder itself."""
    calls = Calls()
    service = build(
        calls,
        responder_check=calls.passing("responder-check"),
        class_check=calls.passing("class-check"),
    )
    result = testing.TestClient(service.app).simulate_get("/v1/admin/items/ada")
    assert result.status_code == 200
    assert result.json == {"name": "ada"}
    assert result.headers["x-service"] == "checked"
    assert calls.seen == [
        "service-check",
        "v1-check",
        "admin-check",
        "class-check",
        "responder-check",
        "responder",
    ]
    assert calls.threads["service-check"].startswith("handler")  # plain: on the pool
    assert not calls.threads["v1-check"].startswith("handler")  # async: on the loop


def test_the_first_rejection_wins_in_problem_json() -> None:
    """A rejecting check stops the chain: later checks and the responder never run."""
    calls = Calls()
    service = build(
        calls,
        responder_check=calls.passing("responder-check"),
        class_check=calls.rejecting("class-check"),
    )
    result = testing.TestClient(service.app).simulate_get("/v1/admin/items/ada")
    assert result.status_code == 403
    assert result.headers["content-type"] == "application/problem+json"
    assert result.json["detail"] == "class-check says no."
    assert result.json["request_id"]
    assert calls.seen == ["service-check", "v1-check", "admin-check", "class-check"]
    counters = service.metrics.snapshot()["counters"]
    assert counters["v1.admin.items.name.GET.403"] == 1


def test_responder_guards_apply_to_their_responder_only() -> None:
    calls = Calls()
    service = build(
        calls,
        responder_check=calls.rejecting("responder-check"),
        class_check=calls.passing("class-check"),
    )
    client = testing.TestClient(service.app)
    assert client.simulate_get("/v1/admin/items/ada").status_code == 403
    calls.seen.clear()
    assert client.simulate_delete("/v1/admin/items/ada").status_code == 204
    assert calls.seen == ["service-check", "v1-check", "admin-check", "class-check", "delete"]


def test_cors_preflights_skip_guards() -> None:
    """A preflight carries no credentials: it is answered before any check runs."""
    calls = Calls()
    service = build(
        calls,
        responder_check=calls.rejecting("responder-check"),
        class_check=calls.rejecting("class-check"),
    )
    result = testing.TestClient(service.app).simulate_options(
        "/v1/admin/items/ada",
        headers={"Origin": "https://ui.example", "Access-Control-Request-Method": "DELETE"},
    )
    assert result.status_code in (200, 204)
    assert calls.seen == []


def test_guards_show_in_routes_and_the_spec() -> None:
    calls = Calls()
    service = build(
        calls,
        responder_check=calls.rejecting("responder-check"),
        class_check=calls.passing("class-check"),
    )
    (line,) = route_table(service)
    assert line.endswith("guards: service-check, v1-check, admin-check, class-check")
    operations = service.openapi()["paths"]["/v1/admin/items/{name}"]
    assert operations["get"]["responses"]["403"]["description"] == (
        "responder-check refused the request."
    )
    assert "403" not in operations["delete"]["responses"]


def test_guarding_after_routes_or_with_a_non_callable_is_refused() -> None:
    service = Service("widgets")
    v1 = service.namespace("/v1")
    v1.add_route("/things", _Thing())
    with pytest.raises(DefinitionError, match="guard the namespace /v1 before adding routes"):
        v1.guard(lambda req: None)
    with pytest.raises(DefinitionError, match="guard the service before adding routes"):
        service.guard(lambda req: None)
    with pytest.raises(DefinitionError, match="a guard check must be callable"):
        guard("not a check")  # type: ignore[arg-type]


def _key_check(name: str) -> Any:
    """A check that admits only requests carrying X-Key: <name>."""

    def check(req: Any) -> None:
        if req.get_header("X-Key") != name:
            raise falcon.HTTPForbidden(description=f"{name} wants its key.")

    async def async_check(req: Any) -> None:
        check(req)

    check.responses = {403: f"{name} wants its key."}  # type: ignore[attr-defined]
    return check, async_check


@pytest.mark.parametrize("form", ["plain", "async"])
def test_checks_and_responder_see_the_request(form: str) -> None:
    """Each check gets the request it guards; the responder behind them gets it too."""
    plain, async_ = _key_check("k1")

    class Echo:
        @guard(plain if form == "plain" else async_)
        async def on_get(self, req: Any, resp: Any) -> None:
            resp.media = {"key": req.get_header("X-Key")}

    service = Service("x")
    service.add_route("/echo", Echo())
    client = testing.TestClient(service.app)
    assert client.simulate_get("/echo").status_code == 403
    assert client.simulate_get("/echo", headers={"X-Key": "k1"}).json == {"key": "k1"}


def test_stacked_guards_all_run_outermost_first() -> None:
    """Two @guard decorators on one responder both run, the outer one first."""
    calls = Calls()

    class Item:
        @guard(calls.passing("outer"))
        @guard(calls.passing("inner"))
        async def on_get(self, req: Any, resp: Any) -> None:
            calls.seen.append("responder")

    service = Service("x")
    service.add_route("/item", Item())
    assert testing.TestClient(service.app).simulate_get("/item").status_code == 200
    assert calls.seen == ["outer", "inner", "responder"]


def test_a_subclass_keeps_the_guards_of_its_bases() -> None:
    """Guards on a base class guard its subclasses too, base first, then the subclass's own."""
    calls = Calls()

    @guard(calls.passing("base"))
    class Base:
        async def on_get(self, req: Any, resp: Any) -> None:
            calls.seen.append("responder")

    @guard(calls.passing("child"))
    class Child(Base):
        pass

    service = Service("x")
    service.add_route("/child", Child())
    assert testing.TestClient(service.app).simulate_get("/child").status_code == 200
    assert calls.seen == ["base", "child", "responder"]


class _RequireKey:
    """A check written as a callable object (no __qualname__ of its own)."""

    def __call__(self, req: Any) -> None:
        if not req.get_header("X-Key"):
            raise falcon.HTTPForbidden(description="No key.")


def test_a_callable_object_check_is_named_by_its_class() -> None:
    """Route tables name a check object by its class."""
    service = Service("x")
    service.guard(_RequireKey())
    service.add_route("/things", _Thing())
    (line,) = route_table(service)
    assert line.endswith("guards: _RequireKey")
    assert testing.TestClient(service.app).simulate_get("/things").status_code == 403


class _Widget(Schema):
    id = fields.Integer()


def test_static_method_responders_are_typed_and_guarded() -> None:
    """A responder declared as a static method is guarded and typed like a method."""
    plain, _ = _key_check("k2")

    class Widgets:
        @staticmethod
        @guard(plain)
        @typed(response=_Widget)
        async def on_get(req: Any, resp: Any) -> dict[str, Any]:
            return {"id": "7", "extra": "dropped by the schema"}

    service = Service("x")
    service.add_route("/widgets", Widgets())
    client = testing.TestClient(service.app)
    assert client.simulate_get("/widgets").status_code == 403
    assert client.simulate_get("/widgets", headers={"X-Key": "k2"}).json == {"id": 7}
    responses = service.openapi()["paths"]["/widgets"]["get"]["responses"]
    assert responses["403"]["description"] == "k2 wants its key."
    assert "schema" in responses["200"]["content"]["application/json"]


class _Thing:
    def __init__(self, who: str = "any") -> None:
        self.who = who

    async def on_get(self, req: Any, resp: Any, **params: Any) -> None:
        resp.media = {"who": self.who}


def hosts_service() -> Service:
    service = Service("widgets")
    service.host("api.example.com").add_route("/v1/things", _Thing("api"))
    service.host("*.example.com").add_route("/v1/things", _Thing("wildcard"))
    service.host("*.example.com").add_route("/only-hosts", _Thing("wildcard"))
    service.add_route("/v1/things", _Thing("any"))
    return service


@pytest.mark.parametrize(
    ("host", "who"),
    [
        ("[::1]:8080", "any"),
        ("[2001:db8::1]", "any"),
        ("api.example.com", "api"),
        ("API.Example.COM", "api"),
        ("api.example.com.", "api"),
        ("api.example.com:8443", "api"),
        ("shop.example.com", "wildcard"),
        ("a.b.example.com", "any"),  # a wildcard stands for one label
        ("example.com", "any"),
        ("other.org", "any"),
    ],
)
def test_virtual_hosts_take_precedence_over_every_host_routes(host: str, who: str) -> None:
    result = testing.TestClient(hosts_service().app).simulate_get("/v1/things", host=host)
    assert result.status_code == 200
    assert result.json == {"who": who}


def test_a_host_pattern_may_end_with_a_dot() -> None:
    """A fully qualified pattern (trailing dot) serves the same name as without the dot."""
    service = Service("widgets")
    service.host("api.example.com.").add_route("/v1/things", _Thing("api"))
    service.add_route("/v1/things", _Thing("any"))
    client = testing.TestClient(service.app)
    assert client.simulate_get("/v1/things", host="api.example.com").json == {"who": "api"}
    assert client.simulate_get("/v1/things", host="example.com").json == {"who": "any"}


def test_a_path_served_only_under_other_hosts_is_a_404_problem() -> None:
    client = testing.TestClient(hosts_service().app)
    assert client.simulate_get("/only-hosts", host="shop.example.com").status_code == 200
    result = client.simulate_get("/only-hosts", host="other.org")
    assert result.status_code == 404
    assert result.headers["content-type"] == "application/problem+json"


def test_host_registrations_are_checked() -> None:
    service = hosts_service()
    with pytest.raises(DefinitionError, match=r"route /v1/things on api.example.com is already"):
        service.host("API.example.com").add_route("/v1/things", _Thing())
    with pytest.raises(DefinitionError, match="is not a host name"):
        service.host("api.*.com")
    hosts = service.host("x.example.com")
    hosts.add_route("/w/{a}", _Thing())
    with pytest.raises(DefinitionError, match=r"route /w/\{b\} on x\.example\.com"):
        hosts.add_route("/w/{b}", _Thing())


def test_hosts_show_in_routes_and_the_spec() -> None:
    lines = route_table(hosts_service())
    assert any(" api.example.com/v1/things " in f" {line} " for line in lines)
    assert any(" *.example.com/only-hosts " in f" {line} " for line in lines)
    paths = hosts_service().openapi()["paths"]
    assert paths["/only-hosts"]["x-host"] == "*.example.com"
    assert "x-host" not in paths["/v1/things"]  # documented as the every-host route


class Recorder:
    def __init__(self, log: list[str], name: str, *, fail: bool = False) -> None:
        self.log, self.name, self.fail = log, name, fail

    def start(self) -> None:
        self.log.append(f"start {self.name} on {threading.current_thread().name}")
        if self.fail:
            msg = "database down"
            raise ConnectionError(msg)

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")


class AsyncRecorder(Recorder):
    async def start(self) -> None:  # type: ignore[override]
        self.log.append(f"start {self.name} on the loop")

    async def stop(self) -> None:  # type: ignore[override]
        self.log.append(f"stop {self.name}")


def test_managed_objects_start_in_order_and_stop_in_reverse() -> None:
    log: list[str] = []
    service = Service("widgets")
    first = Recorder(log, "pool")
    assert service.manage(first) is first
    service.manage(AsyncRecorder(log, "cache"))

    async def lifecycle() -> None:
        await service.managed.start()
        await service.managed.stop()

    asyncio.run(lifecycle())
    service.close()
    assert log[0].startswith("start pool on handler")  # plain: on the pool
    assert log[1:] == ["start cache on the loop", "stop cache", "stop pool"]


def test_a_failing_start_stops_those_started_and_names_the_object() -> None:
    log: list[str] = []
    service = Service("widgets")
    service.manage(AsyncRecorder(log, "cache"))
    service.manage(Recorder(log, "pool", fail=True))
    service.manage(Recorder(log, "never"))
    with pytest.raises(ManagedStartError) as caught:
        asyncio.run(service.managed.start())
    service.close()
    assert str(caught.value) == (
        "test_composition.Recorder.start() failed: ConnectionError: database down"
    )
    assert [line.split(" on ")[0] for line in log] == ["start cache", "start pool", "stop cache"]


def test_manage_needs_start_and_stop() -> None:
    with pytest.raises(DefinitionError, match="has no stop\\(\\) method"):
        Service("widgets").manage(_OnlyStart())  # type: ignore[arg-type]


class _OnlyStart:
    def start(self) -> None:
        return None
