"""Fixtures for end-to-end tests: a rendered service and `scaffold run` masters stopped by pid."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from serving import ServerProcess

from scaffold.new import create_service


@pytest.fixture
def service_root(tmp_path: Path) -> Path:
    """A freshly rendered service this test may edit."""
    return create_service("acme-widgets", tmp_path)


@pytest.fixture
def serve(service_root: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start `scaffold run` in the service folder; every started master is stopped afterwards."""
    started: list[ServerProcess] = []

    def start(
        *args: str, env: dict[str, str] | None = None, os_ports: bool = True
    ) -> ServerProcess:
        server = ServerProcess(service_root, *args, env=env, os_ports=os_ports)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
