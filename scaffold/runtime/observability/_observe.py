"""Observe every app-port request: request id, access log, request log, per-route metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import falcon.asgi

from scaffold.runtime.config_schema import LoggingConfig
from scaffold.runtime.observability._accesslog import AccessLog, JSONAccessLog
from scaffold.runtime.observability._logfile import LogFile
from scaffold.runtime.observability._metrics import OTHER_METHOD, MetricsRegistry
from scaffold.runtime.observability._requestid import (
    HEADER,
    accept_request_id,
    current_request_id,
    new_request_id,
)
from scaffold.runtime.observability._requestlog import JSONRequestLog, RequestLog
from scaffold.runtime.observability._traceparent import parse_traceparent

RouteFinder = Callable[["Request"], "str | None"]
"""Finds the template of the route a request was meant for (when middleware refused it)."""

if TYPE_CHECKING:
    from scaffold.runtime.context import Request
    from scaffold.runtime.observability._tracing import Tracing


class ObserveMiddleware:
    """The first middleware: the request id, then the access log, request log and metrics.

    It sees every request, including errors raised by later middleware (413, shed 503)
    and unmatched paths (404), with their real status. Each part is optional (``None``).
    It owns the log files it writes (:meth:`buffer`, :meth:`flush`, :meth:`close`).

    Args:
        access_log: The access log, if on.
        request_log: The request log, if on.
        metrics: Where each request is counted, if anywhere.
        find_route: Finds the route of a request that middleware refused before routing
            (401, 413, shed 503), so it is counted under that route, not ``unmatched``.
        tracing: The OpenTelemetry tracing, when on: its trace id is the request id of a
            request that names none, and its span is named after the route.
    """

    def __init__(
        self,
        *,
        access_log: AccessLog | None,
        request_log: RequestLog | None,
        metrics: MetricsRegistry | None,
        find_route: RouteFinder | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.access_log = access_log
        self.request_log = request_log
        self.metrics = metrics
        self.find_route = find_route
        self.tracing = tracing
        self.log_files = [log.log_file for log in (access_log, request_log) if log is not None]

    @classmethod
    def from_config(
        cls,
        logging: LoggingConfig,
        metrics: MetricsRegistry,
        *,
        find_route: RouteFinder | None = None,
        tracing: Tracing | None = None,
    ) -> ObserveMiddleware:
        """The app port's observer: the logs ``logging`` turns on, in its format, and ``metrics``.

        Raises:
            ConfigError: The access or request log file cannot be opened.
        """
        json = logging.format == "json"
        access_log = request_log = None
        if logging.access_log is not None:
            access_file = LogFile(logging.access_log, key="logging.access_log")
            extended = logging.access_log_format == "extended"
            kind = JSONAccessLog if json else AccessLog
            access_log = kind(access_file, extended=extended)
        if logging.request_log is not None:
            request_kind = JSONRequestLog if json else RequestLog
            request_log = request_kind(
                LogFile(logging.request_log, key="logging.request_log"),
                redact_headers=logging.redact_headers,
                redact_fields=logging.redact_fields,
            )
        return cls(
            access_log=access_log,
            request_log=request_log,
            metrics=metrics,
            find_route=find_route,
            tracing=tracing,
        )

    def buffer(self) -> None:
        """Buffer log lines in memory until :meth:`flush` (a worker does)."""
        for log_file in self.log_files:
            log_file.buffered = True

    def flush(self) -> None:
        """Write buffered log lines."""
        for log_file in self.log_files:
            log_file.flush()

    def close(self) -> None:
        """Write buffered lines and close the log files (stdout stays open)."""
        for log_file in self.log_files:
            log_file.close()

    async def process_request(self, req: Request, resp: falcon.asgi.Response) -> None:
        """Pick the request id before anything can fail; note the arrival time.

        The request id is the client's ``X-Request-Id`` when sane; without one, the trace id
        of a valid ``traceparent`` (or of the tracer's span); else a new one.
        """
        context = req.context
        context.started = time.time()
        context.started_perf = time.perf_counter()
        given = req.raw_header(b"x-request-id")
        traceparent = req.raw_header(b"traceparent")
        if traceparent is not None:
            context.traceparent = parse_traceparent(traceparent.decode("latin-1"))
        if given is not None:
            request_id = accept_request_id(given.decode("latin-1"))
        elif context.traceparent is not None:
            request_id = context.traceparent.trace_id
        else:
            request_id = (self.tracing and self.tracing.trace_id()) or new_request_id()
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
        if self.tracing is not None:
            self.tracing.route(req.method, req.uri_template)
        if self.metrics is not None:
            template = req.uri_template
            if template is None and status != 404 and self.find_route is not None:
                template = self.find_route(req)  # refused before routing: name its route
            self.metrics.request(template, req.method, status, elapsed * 1000)
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

    def refused(self, peer: Any, status: int, size: int, request_id: str) -> None:
        """Log and count a request the HTTP parser refused before the app saw it."""
        if self.metrics is not None:
            self.metrics.request(None, OTHER_METHOD, status, 0.0)
        if self.access_log is not None:
            line = self.access_log.format_refused(
                peer, status=status, size=size, started=time.time(), request_id=request_id
            )
            self.access_log.write(line)


async def _rendered(resp: falcon.asgi.Response) -> bytes | None:
    """The body falcon will send (it caches rendered media, so this costs no second dump)."""
    data = resp.data
    if data is not None and resp.text is None:  # falcon sends text when both are set
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
