"""The in-process metrics registry behind the admin port's ``/metrics``.

Counters, gauges and timers, each thread-safe, and per-route request metrics. Every update
also goes to the registry's sink (statsd, when configured), so a service's own metrics and
its routes' reach both places. Each gunicorn worker holds its own registry: ``/metrics``
shows the worker that answered; aggregate across workers and hosts in statsd.

Routes are named by template, never by raw path, so a scan cannot explode the metric
namespace (DESIGN 4.6): ``/v1/greetings/{name}`` is ``v1.greetings.name``.
"""

from __future__ import annotations

import functools
import math
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import falcon

from scaffold.runtime.exceptions import DefinitionError

RESERVOIR_SIZE = 1028
"""Samples each timer keeps (a sliding window of the most recent ones)."""

UNMATCHED = "unmatched"
"""The route name of requests that matched no route."""
ROOT = "root"
"""The route name of ``/``."""
OTHER_METHOD = "OTHER"
"""The method name of requests whose method HTTP does not define."""

_NAME = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_\-.]")
_METHODS = frozenset(falcon.COMBINED_METHODS)

F = TypeVar("F", bound=Callable[..., Any])


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


class RouteSeries:
    """One route and method as metrics know it: names, timer and a counter per status.

    Made once per route and method by :meth:`MetricsRegistry.request`, then passed to the
    sink with every request, so a sink may key its own caches on it.

    Attributes:
        template: The route template (``None`` for unmatched requests).
        method: The HTTP method (``OTHER`` for methods HTTP does not define).
        route: The route's metric name (``v1.greetings.name``).
        name: The timer's name, ``<route>.<METHOD>``; counters add ``.<status>``.
    """

    __slots__ = ("counters", "method", "name", "route", "template", "timer")

    def __init__(self, template: str | None, method: str, route: str, timer: Timer) -> None:
        self.template = template
        self.method = method
        self.route = route
        self.name = f"{route}.{method}"
        self.timer = timer
        self.counters: dict[int, Counter] = {}


class MetricSink(Protocol):
    """Where metric updates are exported (the statsd client implements it)."""

    def incr(self, name: str, count: int) -> None:
        """Add ``count`` to counter ``name``."""

    def timing(self, name: str, ms: float) -> None:
        """Record one duration of ``ms`` milliseconds."""

    def gauge(self, name: str, value: float) -> None:
        """Set gauge ``name``."""

    def request(self, series: RouteSeries, status: int, ms: float) -> None:
        """Count one request of ``series`` that ended with ``status`` after ``ms``."""


class FanOut:
    """One sink that passes every update on to several (Prometheus and statsd)."""

    def __init__(self, *sinks: MetricSink) -> None:
        self.sinks = sinks

    def incr(self, name: str, count: int) -> None:
        """Pass it on."""
        for sink in self.sinks:
            sink.incr(name, count)

    def timing(self, name: str, ms: float) -> None:
        """Pass it on."""
        for sink in self.sinks:
            sink.timing(name, ms)

    def gauge(self, name: str, value: float) -> None:
        """Pass it on."""
        for sink in self.sinks:
            sink.gauge(name, value)

    def request(self, series: RouteSeries, status: int, ms: float) -> None:
        """Pass it on."""
        for sink in self.sinks:
            sink.request(series, status, ms)


class Counter:
    """A count that goes up (``inc``) and down (``dec``)."""

    def __init__(self, name: str, sink: MetricSink | None = None) -> None:
        self.name = name
        self._sink = sink
        self._lock = threading.Lock()
        self._count = 0

    @property
    def count(self) -> int:
        """The current count in this process."""
        return self._count

    def inc(self, n: int = 1) -> None:
        """Add ``n`` (here and in statsd)."""
        self.add_local(n)
        if self._sink is not None:
            self._sink.incr(self.name, n)

    def dec(self, n: int = 1) -> None:
        """Subtract ``n``."""
        self.inc(-n)

    def add_local(self, n: int = 1) -> None:
        """Add ``n`` in this process only (the caller exports it another way)."""
        with self._lock:
            self._count += n


class Gauge:
    """A value that is set (``set``), or read from a callable.

    A gauge that reads a callable is read at every ``/metrics``, and every
    ``metrics.gauge_seconds`` in each worker, which sends the value to the sink.
    """

    def __init__(
        self, name: str, sink: MetricSink | None = None, read: Callable[[], float] | None = None
    ) -> None:
        self.name = name
        self._sink = sink
        self._read = read
        self._value: float | None = None

    @property
    def value(self) -> float | None:
        """The current value (``None`` until set, or when the callable fails)."""
        if self._read is not None:
            try:
                return self._read()
            except Exception:  # a gauge must never break /metrics
                return None
        return self._value

    @property
    def reads(self) -> bool:
        """Whether the value comes from a callable."""
        return self._read is not None

    def set(self, value: float) -> None:
        """Set the value (here and in statsd)."""
        self._value = value
        if self._sink is not None:
            self._sink.gauge(self.name, value)

    def publish(self) -> None:
        """Read the callable and send the value to the sink (a worker does it periodically)."""
        value = self.value
        if value is not None and self._sink is not None:
            self._sink.gauge(self.name, value)


class Timer:
    """Durations in milliseconds: count, min, max, mean and percentiles of recent samples.

    Use it as a context manager (``with timer:``), a decorator (``@timer``), or call
    :meth:`update` with a duration. Memory is constant: the statistics other than ``count``
    cover the last :data:`RESERVOIR_SIZE` samples.
    """

    def __init__(
        self, name: str, sink: MetricSink | None = None, size: int = RESERVOIR_SIZE
    ) -> None:
        self.name = name
        self._sink = sink
        self._lock = threading.Lock()
        self._size = size
        self._window: list[float] = []
        self._next = 0
        self._count = 0
        self._starts = threading.local()

    @property
    def count(self) -> int:
        """Durations recorded in this process."""
        return self._count

    def update(self, ms: float) -> None:
        """Record one duration of ``ms`` milliseconds (here and in statsd)."""
        self.add_local(ms)
        if self._sink is not None:
            self._sink.timing(self.name, ms)

    def add_local(self, ms: float) -> None:
        """Record ``ms`` in this process only (the caller exports it another way)."""
        with self._lock:
            self._count += 1
            if len(self._window) < self._size:
                self._window.append(ms)
            else:
                self._window[self._next] = ms
                self._next = (self._next + 1) % self._size

    def __enter__(self) -> Timer:
        stack = self._starts.__dict__.setdefault("stack", [])
        stack.append(time.perf_counter())
        return self

    def __exit__(self, *exc_info: object) -> None:
        started = self._starts.stack.pop()
        self.update((time.perf_counter() - started) * 1000)

    def __call__(self, func: F) -> F:
        """Decorate ``func`` so that every call is timed."""

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.update((time.perf_counter() - started) * 1000)

        return timed  # type: ignore[return-value]

    def snapshot(self) -> dict[str, float | int | None]:
        """Count, min, max, mean, p50, p75, p95 and p99 in milliseconds."""
        with self._lock:
            values = sorted(self._window)
            count = self._count
        if not values:
            empty: dict[str, float | int | None] = dict.fromkeys(_STATS)
            empty["count"] = count
            return empty
        return {
            "count": count,
            "min": round(values[0], 3),
            "max": round(values[-1], 3),
            "mean": round(math.fsum(values) / len(values), 3),
            "p50": _quantile(values, 0.50),
            "p75": _quantile(values, 0.75),
            "p95": _quantile(values, 0.95),
            "p99": _quantile(values, 0.99),
        }


_STATS = ("count", "min", "max", "mean", "p50", "p75", "p95", "p99")


def _quantile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    pos = q * (len(values) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(values) - 1)
    return round(values[low] + (values[high] - values[low]) * (pos - low), 3)


Metric = Counter | Gauge | Timer


class MetricsRegistry:
    """The named metrics of one service in one process.

    Asking twice for the same name and kind returns the same metric; the same name for a
    different kind is a :class:`DefinitionError`.

    Args:
        sink: Where updates are also sent (statsd), if anywhere.
    """

    def __init__(self, sink: MetricSink | None = None) -> None:
        self.sink = sink
        self._metrics: dict[str, Metric] = {}
        self._lock = threading.Lock()
        self._routes: dict[str | None, str] = {None: UNMATCHED}
        self._series: dict[tuple[str | None, str], RouteSeries] = {}

    def _get(self, name: str, kind: type[Metric], make: Callable[[], Metric]) -> Any:
        metric = self._metrics.get(name)
        if metric is None:
            check_name(name)
            with self._lock:
                metric = self._metrics.setdefault(name, make())
        if not isinstance(metric, kind):
            msg = (
                f"metric {name!r} is already a {type(metric).__name__.lower()}, "
                f"not a {kind.__name__.lower()}"
            )
            raise DefinitionError(msg)
        return metric

    def counter(self, name: str) -> Counter:
        """The counter ``name``, created on first use."""
        return self._get(name, Counter, lambda: Counter(name, self.sink))  # type: ignore[no-any-return]

    def timer(self, name: str) -> Timer:
        """The timer ``name``, created on first use."""
        return self._get(name, Timer, lambda: Timer(name, self.sink))  # type: ignore[no-any-return]

    def gauge(self, name: str, read: Callable[[], float] | None = None) -> Gauge:
        """The gauge ``name``; with ``read``, its value is read at every ``/metrics``."""
        return self._get(name, Gauge, lambda: Gauge(name, self.sink, read))  # type: ignore[no-any-return]

    def request(self, template: str | None, method: str, status: int, ms: float) -> None:
        """Count one request of route ``template`` and its duration (here and in the sink).

        Counter ``<route>.<METHOD>.<status>`` and timer ``<route>.<METHOD>``; names are
        worked out once per route, method and status, so a request costs two lookups.
        """
        series = self._series.get((template, method))
        if series is None:
            series = self._new_series(template, method)
        counter = series.counters.get(status)
        if counter is None:
            counter = series.counters.setdefault(status, self.counter(f"{series.name}.{status}"))
        counter.add_local()
        series.timer.add_local(ms)
        if self.sink is not None:
            self.sink.request(series, status, ms)

    def _new_series(self, template: str | None, method: str) -> RouteSeries:
        if method not in _METHODS:
            method = OTHER_METHOD
            found = self._series.get((template, method))
            if found is not None:
                return found
        route = self._routes.get(template)
        if route is None:
            route = self._routes[template] = route_metric_name(template)
        made = RouteSeries(template, method, route, self.timer(f"{route}.{method}"))
        with self._lock:
            return self._series.setdefault((template, method), made)

    def publish_gauges(self) -> None:
        """Read every gauge that reads a callable and send its value to the sink."""
        for metric in list(self._metrics.values()):
            if isinstance(metric, Gauge) and metric.reads:
                metric.publish()

    def snapshot(self) -> dict[str, Any]:
        """The ``/metrics`` document: which worker answered, then every metric by kind."""
        counters: dict[str, int] = {}
        gauges: dict[str, float | None] = {}
        timers: dict[str, dict[str, float | int | None]] = {}
        for name in sorted(self._metrics):
            metric = self._metrics[name]
            if isinstance(metric, Counter):
                counters[name] = metric.count
            elif isinstance(metric, Gauge):
                gauges[name] = metric.value
            else:
                timers[name] = metric.snapshot()
        return {
            "pid": os.getpid(),
            "scope": (
                "this worker process only: each gunicorn worker keeps its own registry; "
                "/metrics/prometheus and statsd have every worker's totals"
            ),
            "counters": counters,
            "gauges": gauges,
            "timers": timers,
        }


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid metric name (dotted words of ``[A-Za-z0-9_-]``).

    Raises:
        DefinitionError: It is empty or has other characters (statsd would misread ``:``,
            ``|`` or ``@``).
    """
    if not isinstance(name, str) or not _NAME.match(name):
        msg = f"metric name {name!r} must be dotted words of letters, digits, '_' or '-'"
        raise DefinitionError(msg)
    return name
