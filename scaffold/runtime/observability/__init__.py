"""What the runtime records: logs, request ids, metrics and their export.

The app port's first middleware (:class:`ObserveMiddleware`) gives each request its id and
writes the access and request logs; :class:`MetricsRegistry` keeps the counters, gauges and
timers behind ``/metrics`` and hands every update to a sink (statsd).
"""

from scaffold.runtime.config_schema import StatsdConfig
from scaffold.runtime.observability._accesslog import AccessLog
from scaffold.runtime.observability._logconfig import configure_logging
from scaffold.runtime.observability._logfile import LogFile, reopen_log_files
from scaffold.runtime.observability._metrics import (
    ROOT,
    UNMATCHED,
    Counter,
    Gauge,
    MetricSink,
    MetricsRegistry,
    RouteSeries,
    Timer,
    route_metric_name,
)
from scaffold.runtime.observability._observe import ObserveMiddleware
from scaffold.runtime.observability._requestid import (
    HEADER as REQUEST_ID_HEADER,
)
from scaffold.runtime.observability._requestid import (
    accept_request_id,
    current_request_id,
    new_request_id,
)
from scaffold.runtime.observability._requestlog import RequestLog
from scaffold.runtime.observability._statsd import StatsdSink


def metric_sink(statsd: StatsdConfig | None, service_name: str) -> StatsdSink | None:
    """Where a service's metrics go besides ``/metrics``: statsd when configured."""
    if statsd is None:
        return None
    return StatsdSink(statsd.host, statsd.port, statsd.prefix or service_name)


__all__ = [
    "REQUEST_ID_HEADER",
    "ROOT",
    "UNMATCHED",
    "AccessLog",
    "Counter",
    "Gauge",
    "LogFile",
    "MetricSink",
    "MetricsRegistry",
    "ObserveMiddleware",
    "RequestLog",
    "RouteSeries",
    "StatsdSink",
    "Timer",
    "accept_request_id",
    "configure_logging",
    "current_request_id",
    "metric_sink",
    "new_request_id",
    "reopen_log_files",
    "route_metric_name",
]
