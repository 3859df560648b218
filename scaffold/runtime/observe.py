"""Observe every app-port request: access log, request log and per-route metrics.

The middleware sits right after the request id, so it sees every request, including errors
raised by later middleware (413, shed 503) and unmatched paths (404), with their real status.
Routes are named by template, never by raw path, so a scan cannot explode the metric namespace.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import falcon

from scaffold.runtime.accesslog import USER_CONTEXT_KEY, AccessLog
from scaffold.runtime.metrics import Counter, MetricsRegistry, Timer
from scaffold.runtime.requestlog import RequestLog
from scaffold.runtime.statsdsink import StatsdSink

UNMATCHED = "unmatched"
ROOT = "root"
OTHER_METHOD = "OTHER"

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-.]")
_METHODS = frozenset(falcon.COMBINED_METHODS)


def route_metric_name(template: str | None) -> str:
    """Name a route in metrics: ``/v1/greetings/{name}`` → ``v1.greetings.name``.

    ``/`` is ``root``, an unmatched request (``None``) is ``unmatched``; converters
    (``{id:int}``) drop out and characters statsd cannot carry become ``_``.
    """
    if template is None:
        return UNMATCHED
    path = template.strip("/")
    if not path:
        return ROOT
    path = _FIELD.sub(r"\1", path).replace("/", ".")
    return _UNSAFE.sub("_", path)


@dataclass
class _Series:
    """One route and method: its timer and a counter per status."""

    timer: Timer
    base: str
    counters: dict[int, tuple[Counter, str]] = field(default_factory=dict)


class RouteMetrics:
    """Per-route counters and timers, in the registry and (one datagram a request) in statsd.

    Args:
        registry: The service's registry (``/metrics``).
        statsd: The statsd sink, if configured.
    """

    def __init__(self, registry: MetricsRegistry, statsd: StatsdSink | None) -> None:
        self.registry = registry
        self.statsd = statsd
        self._names: dict[str | None, str] = {None: UNMATCHED}
        self._series: dict[tuple[str | None, str], _Series] = {}
        self._lock = threading.Lock()

    def name(self, template: str | None) -> str:
        """The metric name of ``template`` (cached)."""
        name = self._names.get(template)
        if name is None:
            name = self._names[template] = route_metric_name(template)
        return name

    def _series_for(self, template: str | None, method: str) -> _Series:
        key = (template, method)
        series = self._series.get(key)
        if series is None:
            base = f"{self.name(template)}.{method}"
            with self._lock:
                series = self._series.setdefault(key, _Series(self.registry.timer(base), base))
        return series

    def record(self, template: str | None, method: str, status: int, ms: float) -> None:
        """Count one request and its duration."""
        if method not in _METHODS:
            method = OTHER_METHOD
        series = self._series_for(template, method)
        entry = series.counters.get(status)
        if entry is None:
            name = f"{series.base}.{status}"
            entry = series.counters.setdefault(status, (self.registry.counter(name), name))
        entry[0].add_local()
        series.timer.add_local(ms)
        if self.statsd is not None:
            self.statsd.request(entry[1], series.base, ms)


class ObserveMiddleware:
    """Falcon middleware feeding the access log, the request log and the route metrics.

    Each part is optional (``None`` = off).
    """

    def __init__(
        self,
        *,
        access_log: AccessLog | None,
        request_log: RequestLog | None,
        metrics: RouteMetrics | None,
    ) -> None:
        self.access_log = access_log
        self.request_log = request_log
        self.metrics = metrics

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        """Note the arrival time; start copying the body for the request log."""
        req.context.observe_started = (time.time(), time.perf_counter())
        if self.request_log is not None:
            self.request_log.start(req)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        """Log and count the finished request (errors included: the envelope is composed)."""
        started: tuple[float, float] | None = getattr(req.context, "observe_started", None)
        if started is None:
            return
        elapsed = time.perf_counter() - started[1]
        status = resp.status_code
        if self.metrics is not None:
            self.metrics.record(req.uri_template, req.method, status, elapsed * 1000)
        if self.access_log is None and self.request_log is None:
            return
        body = _rendered(resp)
        if self.access_log is not None:
            self.access_log.write(
                self.access_log.format(
                    req.env,
                    status=status,
                    size=_sent_size(req, resp, status, body),
                    user=req.context.get(USER_CONTEXT_KEY),
                    started=started[0],
                    elapsed=elapsed,
                    request_id=getattr(req.context, "request_id", None),
                )
            )
        if self.request_log is not None:
            self.request_log.record(req, resp, status=status, body=body, elapsed=elapsed)


def _rendered(resp: falcon.Response) -> bytes | None:
    """The body falcon will send (it caches rendered media, so this costs no second dump)."""
    try:
        return resp.render_body()
    except Exception:  # falcon reports the failure itself when it renders for real
        return None


def _sent_size(
    req: falcon.Request, resp: falcon.Response, status: int, body: bytes | None
) -> int | None:
    if req.method == "HEAD" or status in (204, 304) or status < 200:
        return 0
    if body is not None:
        return len(body)
    if resp.stream is not None and resp.content_length is not None:
        return int(resp.content_length)  # known only when the service set it
    return None if resp.stream is not None else 0
