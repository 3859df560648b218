"""What the runtime records: logs, request ids, traces, metrics and their export.

The app port's first middleware (:class:`ObserveMiddleware`) gives each request its id and
writes the access and request logs; :class:`MetricsRegistry` keeps the counters, gauges and
timers behind ``/metrics`` and hands every update to a sink: Prometheus (every worker's
metrics summed at each scrape) and, when configured, statsd.
"""

from scaffold.runtime.config_schema import StatsdConfig
from scaffold.runtime.observability._accesslog import AccessLog, JSONAccessLog
from scaffold.runtime.observability._logconfig import (
    configure_logging,
    json_line,
    report_error,
    rfc3339,
)
from scaffold.runtime.observability._logfile import LogFile, reopen_log_files
from scaffold.runtime.observability._metrics import (
    ROOT,
    UNMATCHED,
    Counter,
    FanOut,
    Gauge,
    MetricSink,
    MetricsRegistry,
    RouteSeries,
    Timer,
    route_metric_name,
)
from scaffold.runtime.observability._observe import ObserveMiddleware
from scaffold.runtime.observability._prometheus import (
    MULTIPROCESS_ENV,
    MultiprocessFolder,
    PrometheusSink,
)
from scaffold.runtime.observability._requestid import (
    HEADER as REQUEST_ID_HEADER,
)
from scaffold.runtime.observability._requestid import (
    accept_request_id,
    current_request_id,
    new_request_id,
)
from scaffold.runtime.observability._requestlog import JSONRequestLog, RequestLog
from scaffold.runtime.observability._statsd import StatsdSink
from scaffold.runtime.observability._traceparent import TraceParent, parse_traceparent
from scaffold.runtime.observability._tracing import Tracing


def statsd_sink(statsd: StatsdConfig | None, service_name: str) -> StatsdSink | None:
    """The statsd sink ``metrics.statsd`` asks for, if any."""
    if statsd is None:
        return None
    return StatsdSink(statsd.host, statsd.port, statsd.prefix or service_name, tags=statsd.tags)


__all__ = [
    "MULTIPROCESS_ENV",
    "REQUEST_ID_HEADER",
    "ROOT",
    "UNMATCHED",
    "AccessLog",
    "Counter",
    "FanOut",
    "Gauge",
    "JSONAccessLog",
    "JSONRequestLog",
    "LogFile",
    "MetricSink",
    "MetricsRegistry",
    "MultiprocessFolder",
    "ObserveMiddleware",
    "PrometheusSink",
    "RequestLog",
    "RouteSeries",
    "StatsdSink",
    "Timer",
    "TraceParent",
    "Tracing",
    "accept_request_id",
    "configure_logging",
    "current_request_id",
    "json_line",
    "new_request_id",
    "parse_traceparent",
    "reopen_log_files",
    "report_error",
    "rfc3339",
    "route_metric_name",
    "statsd_sink",
]
