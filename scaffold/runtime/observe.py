"""Observe every app-port request: request id, access log, request log, per-route metrics.

Routes are named by template, never by raw path, so a scan cannot explode the metric namespace.
"""

from __future__ import annotations

import re
import threading
import time
from typing import TYPE_CHECKING, Any

import falcon
import falcon.asgi

from scaffold.runtime.accesslog import AccessLog
from scaffold.runtime.metrics import Counter, MetricsRegistry, Timer
from scaffold.runtime.requestid import HEADER, accept_request_id, current_request_id
from scaffold.runtime.requestlog import RequestLog
from scaffold.runtime.statsdsink import StatsdSink

if TYPE_CHECKING:
    from scaffold.runtime.context import Request

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


class _Series:
    """One route and method: its timer, and per status a counter and the ready datagram head."""

    __slots__ = ("base", "counters", "timer", "timer_head")

    def __init__(self, timer: Timer, base: str, timer_head: bytes) -> None:
        self.timer = timer
        self.base = base
        self.timer_head = timer_head
        self.counters: dict[int, tuple[Counter, bytes]] = {}


class RouteMetrics:
    """Per-route counters and timers, in the registry and (one datagram a request) in statsd.

    Names are worked out once per route, method and status; a request then costs two
    registry updates and queueing ``<counter>:1|c\\n<timer>:<ms>|ms`` for statsd, which
    sends it with the other requests that finish in the same event-loop iteration.

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

    def _statsd_name(self, name: str) -> bytes:
        full = self.statsd.full_name(name) if self.statsd is not None else name
        return full.encode("ascii", "replace")

    def _series_for(self, template: str | None, method: str) -> _Series:
        key = (template, method)
        series = self._series.get(key)
        if series is None:
            base = f"{self.name(template)}.{method}"
            made = _Series(self.registry.timer(base), base, self._statsd_name(base) + b":")
            with self._lock:
                series = self._series.setdefault(key, made)
        return series

    def record(self, template: str | None, method: str, status: int, ms: float) -> None:
        """Count one request and its duration."""
        if method not in _METHODS:
            method = OTHER_METHOD
        series = self._series.get((template, method)) or self._series_for(template, method)
        entry = series.counters.get(status)
        if entry is None:
            name = f"{series.base}.{status}"
            made = (self.registry.counter(name), self._statsd_name(name) + b":1|c\n")
            entry = series.counters.setdefault(status, made)
        entry[0].add_local()
        series.timer.add_local(ms)
        if self.statsd is not None:
            self.statsd.queue(b"%s%s%.6f|ms" % (entry[1], series.timer_head, ms))


class ObserveMiddleware:
    """The first middleware: the request id, then the access log, request log and metrics.

    It sees every request, including errors raised by later middleware (413, shed 503)
    and unmatched paths (404), with their real status. Each part is optional (``None``).
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

    async def process_request(self, req: Request, resp: falcon.asgi.Response) -> None:
        """Pick the request id before anything can fail; note the arrival time."""
        context = req.context
        context.started = time.time()
        context.started_perf = time.perf_counter()
        given = req.raw_header(b"x-request-id")
        request_id = accept_request_id(given.decode("latin-1") if given else None)
        context.request_id = request_id
        context.log_token = current_request_id.set(request_id)
        if self.request_log is not None:
            self.request_log.start(req)

    async def process_response(
        self, req: Request, resp: falcon.asgi.Response, resource: object, req_succeeded: bool
    ) -> None:
        """Echo the request id; log and count the finished request (errors included)."""
        context = req.context
        now = time.perf_counter()
        request_id = context.request_id
        if request_id is None:  # refused before any middleware ran (falcon's own 400)
            context.started, context.started_perf = time.time(), now
            request_id = context.request_id = accept_request_id(req.get_header(HEADER))
        resp.set_header(HEADER, request_id)
        token = context.log_token
        if token is not None:
            context.log_token = None
            current_request_id.reset(token)
        elapsed = now - context.started_perf
        status = resp.status_code
        if self.metrics is not None:
            self.metrics.record(req.uri_template, req.method, status, elapsed * 1000)
        if self.access_log is None and self.request_log is None:
            return
        body = await _rendered(resp)
        if self.access_log is not None:
            self.access_log.write(
                self.access_log.format(
                    req,
                    status=status,
                    size=_sent_size(req, resp, status, body),
                    user=context.user,
                    started=context.started,
                    elapsed=elapsed,
                    request_id=request_id,
                )
            )
        if self.request_log is not None:
            self.request_log.record(req, resp, status=status, body=body, elapsed=elapsed)

    def refused(self, peer: Any, status: int, size: int) -> None:
        """Log and count a request the HTTP parser refused before the app saw it."""
        if self.metrics is not None:
            self.metrics.record(None, OTHER_METHOD, status, 0.0)
        if self.access_log is not None:
            line = self.access_log.format_refused(
                peer, status=status, size=size, started=time.time()
            )
            self.access_log.write(line)


async def _rendered(resp: falcon.asgi.Response) -> bytes | None:
    """The body falcon will send (it caches rendered media, so this costs no second dump)."""
    data = resp.data
    if data is not None:
        return data
    try:
        return await resp.render_body()
    except Exception:  # falcon reports the failure itself when it renders for real
        return None


def _sent_size(
    req: Request, resp: falcon.asgi.Response, status: int, body: bytes | None
) -> int | None:
    if req.method == "HEAD" or status in (204, 304) or status < 200:
        return 0
    if body is not None:
        return len(body)
    if resp.stream is not None and resp.content_length is not None:
        return int(resp.content_length)  # known only when the service set it
    return None if resp.stream is not None else 0
