"""The service's own health checks (shown on the admin port's /healthcheck)."""

from scaffold.runtime import HealthResult

from {{ cookiecutter.package_name }}.resources import TEMPLATES, greet


def app_check() -> HealthResult:
    """The greeting logic works for every language it advertises."""
    for language in TEMPLATES:
        if not greet("health", language)["greeting"]:
            return HealthResult.fail(f"empty greeting for {language}")
    return HealthResult.ok(f"{len(TEMPLATES)} languages")
