"""``Service``: routes, namespaces and health checks, exposed as two WSGI apps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import falcon

from scaffold.runtime.admin import Lifecycle, build_admin_app
from scaffold.runtime.config import Config
from scaffold.runtime.errors import install_error_handling
from scaffold.runtime.exceptions import DefinitionError
from scaffold.runtime.health import DEFAULT_TIMEOUT, HealthCheck, HealthRegistry
from scaffold.runtime.limits import BodyLimitMiddleware
from scaffold.runtime.requestid import RequestIdMiddleware
from scaffold.runtime.routing import Router


@dataclass(frozen=True)
class RouteInfo:
    """One route as ``scaffold run`` and ``scaffold routes`` print it."""

    template: str
    methods: tuple[str, ...]
    resource: str
    suffix: str | None = None


def _join(prefix: str, template: str) -> str:
    if not template.startswith("/"):
        msg = f"route template {template!r} must start with '/'"
        raise DefinitionError(msg)
    joined = prefix.rstrip("/") + template
    return joined if joined == "/" else joined.rstrip("/") or "/"


class Namespace:
    """Routes under a common prefix, e.g. ``/v1``; made by :meth:`Service.namespace`."""

    def __init__(self, service: Service, prefix: str) -> None:
        self._service = service
        self.prefix = prefix

    def add_route(self, template: str, resource: object, *, suffix: str | None = None) -> None:
        """Add ``resource`` at ``prefix + template``."""
        self._service.add_route(_join(self.prefix, template), resource, suffix=suffix)

    def namespace(self, prefix: str) -> Namespace:
        """A nested namespace, e.g. ``/v1`` then ``/admin`` gives ``/v1/admin``."""
        return Namespace(self._service, _join(self.prefix, prefix))


class Service:
    """A web service: an app port for its API and an admin port for operators.

    Args:
        name: The service's name (used in logs and metrics).
        config: The validated config (default: every key at its default).

    Attributes:
        app: The WSGI app of the app port (a :class:`falcon.App`).
        admin: The WSGI app of the admin port.
    """

    def __init__(self, name: str, config: Config | None = None) -> None:
        self.name = name
        self.config = config or Config()
        self.lifecycle = Lifecycle()
        self.health = HealthRegistry()
        self._routes: list[RouteInfo] = []
        self._router = Router()
        middleware: list[Any] = [
            RequestIdMiddleware(),
            BodyLimitMiddleware(self.config.server.max_body_bytes),
        ]
        self.app: falcon.App[Any, Any] = falcon.App(middleware=middleware, router=self._router)
        self.app.req_options.strip_url_path_trailing_slash = True
        install_error_handling(self.app)
        self.admin = build_admin_app(self.health, self.lifecycle)

    def add_route(self, template: str, resource: object, *, suffix: str | None = None) -> None:
        """Serve ``resource``'s ``on_<method>`` responders at ``template``.

        Raises:
            DefinitionError: The template is malformed or taken, or ``resource`` has no responders.
        """
        template = _join("", template)
        if any(r.template == template for r in self._routes):
            msg = f"route {template} is already defined"
            raise DefinitionError(msg)
        methods = self._router.explicit_methods(resource, suffix=suffix)
        if methods == ["OPTIONS"]:
            msg = f"{type(resource).__name__} at {template} has no on_<method> responders"
            raise DefinitionError(msg)
        try:
            self.app.add_route(template, resource, suffix=suffix)
        except ValueError as ex:
            msg = f"route {template}: {ex}"
            raise DefinitionError(msg) from ex
        name = f"{type(resource).__module__}.{type(resource).__qualname__}"
        self._routes.append(RouteInfo(template, tuple(methods), name, suffix))

    def namespace(self, prefix: str) -> Namespace:
        """Return a :class:`Namespace` that adds routes under ``prefix``."""
        return Namespace(self, _join("", prefix))

    def add_health_check(
        self,
        name: str,
        check: HealthCheck,
        *,
        critical: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Register a health check shown on the admin port's ``/healthcheck``.

        Args:
            name: Key in the ``/healthcheck`` body.
            check: Returns a :class:`HealthResult`, ``True``/``None`` or ``False``; may raise.
            critical: A failing critical check also fails ``/health/ready``.
            timeout: Seconds before the check counts as unhealthy.
        """
        try:
            self.health.add(name, check, critical=critical, timeout=timeout)
        except (ValueError, TypeError) as ex:
            raise DefinitionError(str(ex)) from ex

    def routes(self) -> list[RouteInfo]:
        """The app port's routes in the order they were added."""
        return list(self._routes)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Serve the app port (so a ``Service`` is itself a WSGI app)."""
        return self.app(environ, start_response)
