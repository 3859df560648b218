"""Per-route metrics: counters and timers in statsd, and the admin port's /metrics."""

from pathlib import Path

from scaffold.runtime import load_config
from scaffold.runtime.testing import StatsdCapture, admin_client, client

from {{ cookiecutter.package_name }}.app import create_service

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "{{ cookiecutter.project_slug }}"


def test_requests_are_counted_and_timed_per_route():
    """Each request sends `<prefix>.<route>.<METHOD>.<status>` and `<prefix>.<route>.<METHOD>`."""
    with StatsdCapture() as statsd:
        config = statsd.apply(load_config(ROOT / "config.yml", env={}))
        app = client(create_service(config))
        app.simulate_get("/v1/greetings/Ada")
        app.simulate_get("/v1/greetings/Grace")
        app.simulate_post("/v1/greetings", json={"name": "Ada", "language": "fr"})
        app.simulate_post("/v1/greetings", json={"name": ""})
        app.simulate_get("/wp-login.php")
        statsd.wait_for(10)
        assert statsd.counters() == {
            f"{PREFIX}.v1.greetings.name.GET.200": 2,
            f"{PREFIX}.v1.greetings.POST.201": 1,
            f"{PREFIX}.v1.greetings.POST.422": 1,
            f"{PREFIX}.unmatched.GET.404": 1,
        }
        assert sorted(statsd.timers()) == [
            f"{PREFIX}.unmatched.GET",
            f"{PREFIX}.v1.greetings.POST",
            f"{PREFIX}.v1.greetings.name.GET",
        ]


def test_metrics_endpoint(service):
    """/metrics on the admin port shows this process's counters and timers (in ms)."""
    client(service).simulate_get("/v1/greetings/Ada")
    body = admin_client(service).simulate_get("/metrics").json
    assert body["counters"] == {"v1.greetings.name.GET.200": 1}
    assert body["timers"]["v1.greetings.name.GET"]["count"] == 1
