"""Falcon test clients on a service's app and admin ports."""

from __future__ import annotations

from collections.abc import Mapping

from falcon import testing

from scaffold.runtime.service import Service


def client(service: Service, *, headers: Mapping[str, str] | None = None) -> testing.TestClient:
    """A :class:`falcon.testing.TestClient` for the service's app port.

    It calls :attr:`Service.asgi`, so tracing (when on) sees the requests as the server's do.

    Args:
        service: The service.
        headers: Sent with every request; a request's own ``headers=`` add to them or
            replace those of the same spelling (``basic_auth()`` gives credentials).
    """
    return testing.TestClient(service.asgi, headers=dict(headers or {}))


def admin_client(
    service: Service, *, headers: Mapping[str, str] | None = None
) -> testing.TestClient:
    """A :class:`falcon.testing.TestClient` for the service's admin port."""
    return testing.TestClient(service.admin, headers=dict(headers or {}))
