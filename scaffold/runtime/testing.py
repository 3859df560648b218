"""Test helpers for services: clients for the app and admin ports.

Example::

    from scaffold.runtime.testing import admin_client, client

    def test_greeting(service):
        assert client(service).simulate_get("/v1/greetings/Ada").status_code == 200
"""

from __future__ import annotations

from falcon import testing

from scaffold.runtime.service import Service


def client(service: Service) -> testing.TestClient:
    """A :class:`falcon.testing.TestClient` for the service's app port."""
    return testing.TestClient(service.app)


def admin_client(service: Service) -> testing.TestClient:
    """A :class:`falcon.testing.TestClient` for the service's admin port."""
    return testing.TestClient(service.admin)
