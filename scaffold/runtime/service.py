"""``Service``: routes, namespaces and health checks, exposed as two ASGI apps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import falcon.asgi

from scaffold.runtime.admin import (
    DEFAULT_TIMEOUT,
    HealthCheck,
    HealthRegistry,
    Lifecycle,
    TaskFunc,
    add_task_route,
    build_admin_app,
    builtin_tasks,
)
from scaffold.runtime.config import Config
from scaffold.runtime.context import Request
from scaffold.runtime.docs import add_docs_routes
from scaffold.runtime.errors import install_error_handling
from scaffold.runtime.exceptions import DefinitionError
from scaffold.runtime.guards import Check, check_name, class_guards, validate_checks
from scaffold.runtime.hosts import HostPattern
from scaffold.runtime.jsonio import install_media_handlers
from scaffold.runtime.managed import Managed, ManagedObjects
from scaffold.runtime.middleware import app_middleware
from scaffold.runtime.observability import (
    ROOT,
    UNMATCHED,
    Counter,
    FanOut,
    Gauge,
    MetricsRegistry,
    ObserveMiddleware,
    PrometheusSink,
    Timer,
    Tracing,
    route_metric_name,
    statsd_sink,
)
from scaffold.runtime.openapi import OPENAPI_PATH, OpenAPIResource, build_openapi
from scaffold.runtime.routing import RouteInfo, Router
from scaffold.runtime.threadpool import ThreadPool


def _join(prefix: str, template: str) -> str:
    if not template.startswith("/"):
        msg = f"route template {template!r} must start with '/'"
        raise DefinitionError(msg)
    joined = prefix.rstrip("/") + template
    return joined if joined == "/" else joined.rstrip("/") or "/"


class Namespace:
    """Routes under a common prefix (and maybe one virtual host), sharing guards.

    Made by :meth:`Service.namespace`, :meth:`Service.host` and :meth:`Namespace.namespace`.
    """

    def __init__(
        self,
        service: Service,
        prefix: str,
        *,
        parent: Namespace | None = None,
        host: HostPattern | None = None,
    ) -> None:
        self._service = service
        self.prefix = prefix
        self.host = host
        self._parent = parent
        self._checks: tuple[Check, ...] = ()
        self._used = False

    def add_route(self, template: str, resource: object, *, suffix: str | None = None) -> None:
        """Add ``resource`` at ``prefix + template``, behind this namespace's guards."""
        checks: tuple[Check, ...] = ()  # outermost namespace first
        link: Namespace | None = self
        while link is not None:
            checks = link._checks + checks
            link._used = True
            link = link._parent
        self._service._add_route(
            _join(self.prefix, template), resource, suffix=suffix, checks=checks, host=self.host
        )

    def namespace(self, prefix: str) -> Namespace:
        """A nested namespace, e.g. ``/v1`` then ``/admin`` gives ``/v1/admin``."""
        return Namespace(self._service, _join(self.prefix, prefix), parent=self, host=self.host)

    def guard(self, *checks: Check) -> None:
        """Run ``checks`` before every responder of this namespace (see :mod:`guards`).

        Raises:
            DefinitionError: A check is not callable, or routes were added here already.
        """
        if self._used:
            msg = f"guard the namespace {self.prefix or '/'} before adding routes to it"
            raise DefinitionError(msg)
        self._checks += validate_checks(checks)


class Service:
    """A web service: an app port for its API and an admin port for operators.

    Args:
        name: The service's name (used in logs and metrics).
        config: The validated config (default: every key at its default).
        version: The service's version, as its OpenAPI document states it. ``scaffold run``
            and ``scaffold openapi`` fill it from the project when the factory leaves it out.

    Attributes:
        app: The app port's :class:`falcon.asgi.App` (its routes, middleware, handlers).
        asgi: What serves the app port: :attr:`app`, behind OpenTelemetry's middleware
            when ``tracing`` is on. The server and the test clients call this.
        admin: The ASGI app of the admin port.
        threads: The thread pool plain (``def``) responders run on (``server.threads``).
        metrics: This process's :class:`MetricsRegistry` (the admin port's ``/metrics``).
        prometheus: The Prometheus export (the admin port's ``/metrics/prometheus``).
        statsd: The statsd sink, or ``None`` when ``metrics.statsd`` is absent.
        tracing: The OpenTelemetry tracing, or ``None`` when ``tracing`` is absent.
        tasks: The admin tasks (``gc`` and ``log-level`` built in).

    Raises:
        ConfigError: The access or request log file cannot be opened, or ``tracing`` is
            on without the ``[otel]`` extra.
    """

    def __init__(
        self, name: str, config: Config | None = None, *, version: str | None = None
    ) -> None:
        self.name = name
        self.version = version
        self.config = config or Config()
        self.lifecycle = Lifecycle()
        self.health = HealthRegistry()
        self._routes: list[RouteInfo] = []
        self._checks: tuple[Check, ...] = ()
        self._service_used = False
        self._metric_names: dict[str, str] = {}
        self.threads = ThreadPool(self.config.server.threads, "handler")
        self.managed = ManagedObjects(self.threads)
        self._router = Router(self.threads)
        self.prometheus = PrometheusSink()
        self.statsd = statsd_sink(self.config.metrics.statsd, name)
        sink = self.prometheus if self.statsd is None else FanOut(self.prometheus, self.statsd)
        self.metrics = MetricsRegistry(sink)
        self._gauges_due = 0.0
        tracing = self.config.tracing
        self.tracing = Tracing(tracing, name, version) if tracing is not None else None
        # The app port's first middleware; the server also reports here the requests its
        # HTTP parser refused.
        self.observer = ObserveMiddleware.from_config(
            self.config.logging, self.metrics, find_route=self._route_of, tracing=self.tracing
        )
        self.app: falcon.asgi.App[Any, Any] = falcon.asgi.App(
            middleware=[self.observer, *app_middleware(self.config, self.threads)],
            router=self._router,
            request_type=Request,
        )
        self.asgi: Any = self.app if self.tracing is None else self.tracing.wrap(self.app)
        self.app.req_options.strip_url_path_trailing_slash = True
        install_media_handlers(self.app)
        install_error_handling(self.app)
        if self.config.openapi:
            # Served but not listed: the document describes the service's own routes.
            self.app.add_route(OPENAPI_PATH, OpenAPIResource(self.openapi))
            add_docs_routes(self.app, name)  # GET /docs: Swagger UI on that document
        self.tasks = builtin_tasks(name)
        self.admin = build_admin_app(
            self.health, self.lifecycle, self.metrics, self.tasks, prometheus=self.prometheus
        )

    def _route_of(self, req: Request) -> str | None:
        """The template of the route ``req`` asks for, found again (it was refused first)."""
        try:
            found = self._router.find(req.path, req)
        except Exception:  # a path the router cannot even look at has no route
            return None
        return found[3] if found is not None else None

    def add_route(self, template: str, resource: object, *, suffix: str | None = None) -> None:
        """Serve ``resource``'s ``on_<method>`` responders at ``template``, on every host.

        Raises:
            DefinitionError: The template is malformed or taken, or ``resource`` has no responders.
        """
        self._add_route(template, resource, suffix=suffix, checks=(), host=None)

    def _add_route(
        self,
        template: str,
        resource: object,
        *,
        suffix: str | None,
        checks: tuple[Check, ...],
        host: HostPattern | None,
    ) -> None:
        template = _join("", template)
        host_name = host.pattern if host else None
        where = f"{template} on {host_name}" if host_name else template
        if any(r.template == template and r.host == host_name for r in self._routes):
            msg = f"route {where} is already defined"
            raise DefinitionError(msg)
        if "//" in template:
            msg = f"route {template}: a template may not contain '//'"
            raise DefinitionError(msg)
        methods = self._router.explicit_methods(resource, suffix=suffix)
        if methods == ["OPTIONS"]:
            msg = f"{type(resource).__name__} at {where} has no on_<method> responders"
            raise DefinitionError(msg)
        metric_name = self._metric_name(template)
        self._service_used = True
        outer = self._checks + checks  # the service's, then the namespaces'
        try:
            if host is None:
                self.app.add_route(template, resource, suffix=suffix, guards=outer)
            else:
                router = self._router.for_host(host)
                router.add_route(template, resource, suffix=suffix, guards=outer, _asgi=True)
        except ValueError as ex:
            msg = f"route {where}: {ex}"
            raise DefinitionError(msg) from ex
        self._metric_names[metric_name] = template
        name = f"{type(resource).__module__}.{type(resource).__qualname__}"
        # The route's own checks: service, namespaces, resource class (responders may add more).
        route_checks = (*outer, *class_guards(resource))
        self._routes.append(
            RouteInfo(
                template,
                tuple(methods),
                name,
                suffix,
                resource,
                host=host_name,
                guards=tuple(check_name(check) for check in route_checks),
                checks=route_checks,
            )
        )

    def guard(self, *checks: Check) -> None:
        """Run ``checks`` before every responder of the app port (see :mod:`guards`).

        Raises:
            DefinitionError: A check is not callable, or routes were added already.
        """
        if self._service_used:
            msg = "guard the service before adding routes"
            raise DefinitionError(msg)
        self._checks += validate_checks(checks)

    def host(self, pattern: str) -> Namespace:
        """A namespace whose routes serve only requests for ``pattern``'s hosts.

        ``pattern`` is ``api.example.com`` or ``*.example.com`` (one label before the
        domain). ``Host`` is compared without its port, case-insensitively, without a
        trailing dot. These routes take precedence over the service's own, which serve
        every host.

        Raises:
            DefinitionError: ``pattern`` is not a host name.
        """
        return Namespace(self, "", host=HostPattern.parse(pattern))

    def manage(self, obj: Managed) -> Managed:
        """Start ``obj`` in each worker before it serves; stop it after its last request.

        ``obj.start()`` and ``obj.stop()`` may be ``async def``; plain ones run on the
        worker's thread pool. Objects start in the order given and stop in reverse. A
        ``start()`` that raises stops the worker from booting, and ``scaffold run`` exits 1.
        Returns ``obj``.

        Raises:
            DefinitionError: ``obj`` lacks ``start()`` or ``stop()``.
        """
        try:
            self.managed.add(obj)
        except TypeError as ex:
            raise DefinitionError(str(ex)) from None
        return obj

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
        self.health.add(name, check, critical=critical, timeout=timeout)

    def _metric_name(self, template: str) -> str:
        """The route's metric name, which no other route may share (DESIGN 4.6)."""
        name = route_metric_name(template)
        other = self._metric_names.get(name)
        if other == template:  # the same route under another host: one set of metrics
            other = None
        if other is not None or (name == UNMATCHED) or (name == ROOT and template != "/"):
            taken_by = other or ("unmatched requests" if name == UNMATCHED else "the route /")
            msg = (
                f"route {template} would be named {name!r} in metrics, like {taken_by}; "
                "rename one of them"
            )
            raise DefinitionError(msg)
        return name

    def add_task(self, name: str, func: TaskFunc, *, description: str | None = None) -> None:
        """Offer ``func`` as ``POST /tasks/<name>`` on the admin port.

        Args:
            name: Lowercase letters, digits, ``-`` and ``_``.
            func: Called with the query parameters (``dict[str, str]``); returns what the
                response's ``result`` shows (JSON-able or ``None``); raises
                :class:`TaskError` for bad parameters (400).
            description: Shown by ``GET /tasks`` (default: the first docstring line).

        Raises:
            DefinitionError: The name is taken or malformed, or ``func`` is not callable.
        """
        add_task_route(self.admin, self.tasks.add(name, func, description))

    def counter(self, name: str) -> Counter:
        """The counter ``name`` (``/metrics`` and statsd ``<prefix>.<name>``), made on first use."""
        return self.metrics.counter(name)

    def timer(self, name: str) -> Timer:
        """The timer ``name``: ``with service.timer("db.query"):`` or ``@service.timer(...)``."""
        return self.metrics.timer(name)

    def gauge(self, name: str, read: Callable[[], float] | None = None) -> Gauge:
        """The gauge ``name``: ``.set(value)``, or ``read`` called when it is exported.

        A gauge that reads is read at every ``/metrics`` and, in each worker, every
        ``metrics.gauge_seconds`` for statsd and Prometheus.
        """
        return self.metrics.gauge(name, read)

    def buffer_output(self) -> None:
        """Buffer logs, statsd and Prometheus request metrics until :meth:`flush` (a worker does).

        A request then appends to memory instead of making system calls; whatever is
        buffered also goes out once a buffer is full and at :meth:`close`.
        """
        self.observer.buffer()
        self.prometheus.buffer()
        if self.statsd is not None:
            self.statsd.buffered = True

    def flush(self) -> None:
        """Write buffered log lines and metrics; send buffered statsd metrics."""
        self.observer.flush()
        self.prometheus.flush()
        if self.statsd is not None:
            self.statsd.flush()

    def tick(self, now: float | None = None) -> None:
        """What a worker does every second: read gauges when due, then :meth:`flush`.

        Every ``metrics.gauge_seconds``, the gauges that read a callable are read and sent
        to the sinks, and this process's metrics (CPU, memory, open files) are read.
        """
        now = time.monotonic() if now is None else now
        if now >= self._gauges_due:
            self._gauges_due = now + self.config.metrics.gauge_seconds
            self.metrics.publish_gauges()
            self.prometheus.refresh()
        self.flush()

    def close(self) -> None:
        """Stop the thread pool; close the log files and the statsd socket.

        Buffered log lines and metrics are written first. Done anyway when garbage
        collected, but for the threads, which only run once a plain responder was called.
        """
        self.threads.shutdown()
        self.observer.close()
        self.prometheus.flush()
        if self.statsd is not None:
            self.statsd.close()
        if self.tracing is not None:
            self.tracing.shutdown()

    def routes(self) -> list[RouteInfo]:
        """The app port's routes in the order they were added."""
        return list(self._routes)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of the app port's routes (``/openapi.json`` serves it)."""
        return build_openapi(
            self.name,
            self._routes,
            version=self.version,
            basic_auth=self.config.auth.basic is not None,
            sheds_load=self.config.server.max_in_flight is not None,
        )

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Serve the app port (so a ``Service`` is itself an ASGI app)."""
        await self.asgi(scope, receive, send)
