"""Build the {{ cookiecutter.project_slug }} service from its config."""

import tempfile

from scaffold.runtime import Config, Service

from {{ cookiecutter.package_name }}.health import disk_space_check
from {{ cookiecutter.package_name }}.resources import GreetingCollection, GreetingItem
from {{ cookiecutter.package_name }}.schemas import AppSettingsSchema


def create_service(config: Config) -> Service:
    """Return the service: routes under /v1 and the `app` health check."""
    settings = config.load_app(AppSettingsSchema())
    service = Service("{{ cookiecutter.project_slug }}", config)
    v1 = service.namespace("/v1")
    v1.add_route("/greetings", GreetingCollection())
    v1.add_route("/greetings/{name}", GreetingItem(settings["default_language"]))
    # Not critical: a nearly full disk fails /healthcheck (alert on it) but not
    # /health/ready, since the service still answers and should stay in rotation.
    service.add_health_check(
        "app", disk_space_check(tempfile.gettempdir(), settings["min_free_mb"]), critical=False
    )
    return service
