"""The admin port: ping and health checks."""

from scaffold.runtime.testing import admin_client


def test_ping(service):
    """/ping answers pong."""
    result = admin_client(service).simulate_get("/ping")
    assert result.status_code == 200
    assert result.text == "pong"


def test_app_check_is_healthy(service):
    """The service's own `app` check passes."""
    result = admin_client(service).simulate_get("/healthcheck")
    assert result.status_code == 200
    assert result.json["app"]["healthy"] is True


def test_ready(service):
    """The service is ready to take traffic."""
    assert admin_client(service).simulate_get("/health/ready").status_code == 200
