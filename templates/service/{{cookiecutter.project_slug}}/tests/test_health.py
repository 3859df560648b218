"""The admin port: ping and health checks, through the `admin_client` fixture."""

import pytest

from {{ cookiecutter.package_name }}.health import disk_space_check

MORE_THAN_ANY_DISK = 2**40  # MiB


def test_ping(admin_client):
    """/ping answers pong."""
    result = admin_client.simulate_get("/ping")
    assert result.status_code == 200
    assert result.text == "pong"


def test_app_check_is_healthy(admin_client):
    """The service's own `app` check passes: there is room on the disk."""
    result = admin_client.simulate_get("/healthcheck")
    assert result.status_code == 200
    assert result.json["app"]["healthy"] is True
    assert "MiB free" in result.json["app"]["message"]


def test_ready(admin_client):
    """The service is ready to take traffic."""
    assert admin_client.simulate_get("/health/ready").status_code == 200


@pytest.mark.scaffold_config({"app": {"min_free_mb": MORE_THAN_ANY_DISK}})
def test_app_check_fails_when_the_disk_is_nearly_full(admin_client):
    """Below `app.min_free_mb`, /healthcheck is 503 and says why; readiness holds (not critical)."""
    result = admin_client.simulate_get("/healthcheck")
    assert result.status_code == 503
    assert result.json["app"]["healthy"] is False
    assert "below app.min_free_mb" in result.json["app"]["message"]
    assert admin_client.simulate_get("/health/ready").status_code == 200


@pytest.mark.parametrize(
    ("min_free_mb", "healthy"), [(0, True), (MORE_THAN_ANY_DISK, False)], ids=["room", "full"]
)
def test_disk_space_check(tmp_path, min_free_mb, healthy):
    """The check compares a folder's free space with its threshold."""
    assert disk_space_check(str(tmp_path), min_free_mb)().healthy is healthy
