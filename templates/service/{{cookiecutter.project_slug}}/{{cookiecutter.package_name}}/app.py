"""Build the {{ cookiecutter.project_slug }} service from its config."""

from scaffold.runtime import Config, Service

from {{ cookiecutter.package_name }}.health import app_check
from {{ cookiecutter.package_name }}.resources import GreetingCollection, GreetingItem
from {{ cookiecutter.package_name }}.schemas import AppSettingsSchema


def create_service(config: Config) -> Service:
    """Return the service: routes under /v1 and the `app` health check."""
    settings = config.load_app(AppSettingsSchema())
    service = Service("{{ cookiecutter.project_slug }}", config)
    v1 = service.namespace("/v1")
    v1.add_route("/greetings", GreetingCollection())
    v1.add_route("/greetings/{name}", GreetingItem(settings["default_language"]))
    service.add_health_check("app", app_check)
    return service
