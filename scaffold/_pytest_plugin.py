"""scaffold's pytest plugin: the fixtures of ``scaffold.runtime.testing`` for a service's tests.

pytest loads it through the entry point ``pytest11`` (name ``scaffold``) in every session of
an environment where scaffold is installed, so at import it costs the standard library and
pytest only: each fixture imports the runtime when a test first asks for it. It lives outside
``scaffold.runtime`` because importing anything there imports the whole runtime, and because
it finds and builds the service as ``scaffold run`` does (``scaffold.project``,
``scaffold.loader``), which the runtime never imports. What the fixtures give is documented in
``scaffold.runtime.testing``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from falcon.testing import TestClient

    from scaffold.project import ServiceProject
    from scaffold.runtime import Config, Service
    from scaffold.runtime.testing import LiveServer, StatsdCapture

MARKER = "scaffold_config"


@dataclass(frozen=True)
class ConfigChanges:
    """What one test asks of the service's config: its marker(s) and indirect parameter."""

    overrides: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


_CHANGES = pytest.StashKey[ConfigChanges]()


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(overrides=None, *, env=None): this test's changes to the service's "
        "config.yml, merged in before validation, and the values of its ${VAR}s "
        "(scaffold.runtime.testing)",
    )


@pytest.fixture
def scaffold_config(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Config:
    """The service's config as this test sees it.

    ``config.yml`` of the service with every ``${VAR:-default}`` at its default (the shell
    is not read), changed by ``@pytest.mark.scaffold_config(overrides, env=...)`` markers
    (module, class, then function) and an indirect ``scaffold_config`` parameter; ``env``
    is also set in ``os.environ`` for the test. With Basic auth on, the only user is the test
    user; with the ``statsd`` fixture, metrics go to it.
    """
    from scaffold.runtime import ConfigError
    from scaffold.runtime.testing import load_test_config

    project = _project(request)
    changes = _changes(request)
    request.node.stash[_CHANGES] = changes
    for name, value in changes.env.items():
        monkeypatch.setenv(name, value)
    capture = request.getfixturevalue("statsd") if "statsd" in request.fixturenames else None
    try:
        return load_test_config(
            project.config_path,
            overrides=changes.overrides,
            env=changes.env,
            statsd=capture,
            name=project.name,
        )
    except ConfigError as ex:
        pytest.fail(f"the test's config is invalid:\n{ex}", pytrace=False)


@pytest.fixture
def service(request: pytest.FixtureRequest, scaffold_config: Config) -> Iterator[Service]:
    """The service, built by the project's factory from ``scaffold_config``.

    Its managed objects are started first, and stopped after the test; then it is closed.
    """
    import asyncio

    from scaffold.loader import ServiceLoader

    built = ServiceLoader(_project(request)).build(scaffold_config)
    try:
        asyncio.run(built.managed.start())
        try:
            yield built
        finally:
            asyncio.run(built.managed.stop())
    finally:
        built.close()


@pytest.fixture
def client(service: Service) -> TestClient:
    """A ``falcon.testing.TestClient`` on the app port, as the test user when auth is on."""
    from scaffold.runtime.testing import basic_auth
    from scaffold.runtime.testing import client as make_client

    return make_client(service, headers=basic_auth() if _auth_on(service.config) else None)


@pytest.fixture
def anonymous_client(service: Service) -> TestClient:
    """A ``falcon.testing.TestClient`` on the app port that sends no credentials."""
    from scaffold.runtime.testing import client as make_client

    return make_client(service)


@pytest.fixture
def admin_client(service: Service) -> TestClient:
    """A ``falcon.testing.TestClient`` on the admin port."""
    from scaffold.runtime.testing import admin_client as make_admin_client

    return make_admin_client(service)


@pytest.fixture
def statsd() -> Iterator[StatsdCapture]:
    """A statsd server on 127.0.0.1 that the service's metrics go to (``StatsdCapture``)."""
    from scaffold.runtime.testing import StatsdCapture

    with StatsdCapture() as capture:
        yield capture


@pytest.fixture
def live_server(
    request: pytest.FixtureRequest,
    scaffold_config: Config,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    """A real ``scaffold run`` of the service on OS-chosen ports of 127.0.0.1 (``LiveServer``).

    It serves this test's config (written to a file of its own) with one worker, unless the
    test's overrides set ``server.workers``; ``request()`` sends the test user's credentials
    when auth is on. The master is stopped after the test by its pid: SIGTERM, then SIGKILL.
    """
    from scaffold.runtime.testing import LiveServer, basic_auth, write_config

    path = write_config(scaffold_config, tmp_path_factory.mktemp("live_server") / "config.yml")
    options = ["--config", str(path), "--bind", "127.0.0.1:0", "--admin-bind", "127.0.0.1:0"]
    server_changes = request.node.stash[_CHANGES].overrides.get("server")
    if not (isinstance(server_changes, Mapping) and "workers" in server_changes):
        options += ["--workers", "1"]
    server = LiveServer(
        _project(request).root,
        *options,
        headers=basic_auth() if _auth_on(scaffold_config) else None,
    )
    server.start()
    try:
        if not server.ready:
            pytest.fail(f"scaffold run exited before serving:\n{server.output}", pytrace=False)
        yield server
    finally:
        server.stop()


def _auth_on(config: Config) -> bool:
    return config.auth.basic is not None


def _project(request: pytest.FixtureRequest) -> ServiceProject:
    """The service project holding the test's file (the nearest ``[tool.scaffold]``)."""
    from scaffold.exceptions import ProjectNotFoundError

    try:
        return _find_project(Path(request.path).parent)
    except ProjectNotFoundError as ex:
        pytest.fail(f"scaffold's fixtures serve a service's tests: {ex}", pytrace=False)


@functools.cache
def _find_project(folder: Path) -> ServiceProject:
    from scaffold.project import find_project

    return find_project(folder)


def _changes(request: pytest.FixtureRequest) -> ConfigChanges:
    """Merge the test's markers (the nearest last, so it wins) and its indirect parameter."""
    from scaffold.runtime.testing._config import merge

    overrides: dict[str, Any] = {}
    env: dict[str, str] = {}
    for mark in reversed(list(request.node.iter_markers(MARKER))):
        given, variables = _read_marker(mark)
        overrides = merge(overrides, given)
        env.update(variables)
    param = getattr(request, "param", None)
    if param is not None:
        if not isinstance(param, Mapping):
            pytest.fail(
                f"a scaffold_config parameter is a mapping of overrides, not {param!r}",
                pytrace=False,
            )
        overrides = merge(overrides, param)
    return ConfigChanges(overrides, env)


def _read_marker(mark: pytest.Mark) -> tuple[Mapping[str, Any], Mapping[str, str]]:
    usage = (
        f"use @pytest.mark.{MARKER}({{'server': {{'workers': 1}}}}, env={{'NAME': 'value'}}), "
        f"not {mark}"
    )
    extra = set(mark.kwargs) - {"overrides", "env"}
    if len(mark.args) > 1 or extra or (mark.args and "overrides" in mark.kwargs):
        pytest.fail(usage, pytrace=False)
    overrides = mark.args[0] if mark.args else mark.kwargs.get("overrides")
    env = mark.kwargs.get("env")
    if not isinstance(overrides or {}, Mapping) or not isinstance(env or {}, Mapping):
        pytest.fail(usage, pytrace=False)
    if not all(isinstance(v, str) for v in (env or {}).values()):
        pytest.fail(f"{MARKER} env values are strings: {env!r}", pytrace=False)
    return overrides or {}, env or {}
