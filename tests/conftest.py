"""Fixtures shared by the whole suite: a typed example service and a rendered service."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import falcon
import pytest
from falcon import testing
from marshmallow import Schema, fields, validate

from scaffold.new import create_service
from scaffold.runtime import Config, Service, parse_config, typed

BIN = Path(sys.executable).parent


class GreetingIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    language = fields.String(load_default="en", validate=validate.OneOf(["en", "fr"]))
    nick_name = fields.String(data_key="nickName")


class GreetingOut(Schema):
    greeting = fields.String()
    language = fields.String()


class Address(Schema):
    city = fields.String(required=True)


class Person(Schema):
    name = fields.String(required=True)
    address = fields.Nested(Address, required=True)


class Paging(Schema):
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))


class GreetingItem:
    @typed(response=GreetingOut)
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> dict[str, str]:
        return {"greeting": f"Hello, {name}!", "language": "en"}


class GreetingCollection:
    @typed(query=Paging, response=GreetingOut, many=True)
    def on_get(
        self, req: falcon.Request, resp: falcon.Response, query: dict[str, Any]
    ) -> list[dict[str, str]]:
        return [{"greeting": f"Hello, {i}!", "language": "en"} for i in range(query["limit"])]

    @typed(request=GreetingIn, response=GreetingOut, status=201)
    def on_post(
        self, req: falcon.Request, resp: falcon.Response, body: dict[str, Any]
    ) -> dict[str, str]:
        word = "Bonjour" if body["language"] == "fr" else "Hello"
        return {"greeting": f"{word}, {body['name']}!", "language": body["language"]}


class People:
    @typed(request=Person, status=204)
    def on_put(self, req: falcon.Request, resp: falcon.Response, body: dict[str, Any]) -> None:
        return None


class Broken:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        secret = "do-not-leak"
        raise RuntimeError(f"bug holding {secret}")


class Silent:
    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Writes nothing at all."""


def build_example(config: Config | None = None) -> Service:
    """A service exercising every typed-responder feature."""
    service = Service("example", config)
    v1 = service.namespace("/v1")
    v1.add_route("/greetings", GreetingCollection())
    v1.add_route("/greetings/{name}", GreetingItem())
    v1.add_route("/people", People())
    service.add_route("/broken", Broken())
    service.add_route("/silent", Silent())
    return service


@pytest.fixture
def make_example() -> Callable[[Config | None], Service]:
    """The example service's factory, for tests that build it with their own config."""
    return build_example


@pytest.fixture
def example_service() -> Service:
    """The example service with default config."""
    return build_example()


@pytest.fixture
def small_body_service() -> Service:
    """The example service with a 64-byte body limit."""
    return build_example(parse_config("server: {max_body_bytes: 64}", env={}))


@pytest.fixture
def app(example_service: Service) -> testing.TestClient:
    """A test client on the example service's app port."""
    return testing.TestClient(example_service.app)


@pytest.fixture(scope="session")
def rendered_service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `acme-widgets` service rendered from the real template (read-only for tests)."""
    return create_service("acme-widgets", tmp_path_factory.mktemp("rendered"))


@pytest.fixture(scope="session")
def scaffold_bin() -> Path:
    """The installed `scaffold` console script of this interpreter's environment."""
    return BIN / "scaffold"


@pytest.fixture
def service_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh service as the working directory; its modules are forgotten afterwards."""
    root = create_service("acme-widgets", tmp_path)
    monkeypatch.chdir(root)
    for name in ("ACME_WIDGETS_BIND", "ACME_WIDGETS_WORKERS", "ACME_WIDGETS_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    saved_path = list(sys.path)
    yield root
    sys.path[:] = saved_path
    for name in [m for m in sys.modules if m == "acme_widgets" or m.startswith("acme_widgets.")]:
        del sys.modules[name]
