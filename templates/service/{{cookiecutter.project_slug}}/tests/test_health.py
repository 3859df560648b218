"""The admin port: ping and health checks, through the `admin_client` fixture."""


def test_ping(admin_client):
    """/ping answers pong."""
    result = admin_client.simulate_get("/ping")
    assert result.status_code == 200
    assert result.text == "pong"


def test_app_check_is_healthy(admin_client):
    """The service's own `app` check passes."""
    result = admin_client.simulate_get("/healthcheck")
    assert result.status_code == 200
    assert result.json["app"]["healthy"] is True


def test_ready(admin_client):
    """The service is ready to take traffic."""
    assert admin_client.simulate_get("/health/ready").status_code == 200

