"""Prometheus: every worker's metrics, summed at each scrape of ``/metrics/prometheus``.

Under ``scaffold run`` each worker writes its metrics to files in a folder the master makes
(prometheus_client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``); a scrape, whichever
worker answers it, reads every worker's files, so it counts every request the service
served. Files of workers that exited stay until the master stops: their counts are not lost
to a reload. Outside a server (tests, one process) the metrics live in memory.

What is exported:

- ``http_requests_total{route,method,status}``: requests by route template (``/v1/items/{id}``,
  ``unmatched`` when none matched), method and status;
- ``http_request_duration_seconds{route,method}``: a histogram of their durations;
- the service's own metrics, named with ``.`` and ``-`` as ``_``: a counter is a gauge
  summed over the workers (it may go down), a gauge is summed over the live workers, and a
  timer ``x`` is the histogram ``x_seconds``;
- ``process_cpu_seconds_total``, ``process_resident_memory_bytes`` and ``process_open_fds``
  summed over the workers, and ``process_start_time_seconds`` of the oldest live one.
"""

from __future__ import annotations

import atexit
import bisect
import contextlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any

from scaffold.runtime.observability._metrics import UNMATCHED

if TYPE_CHECKING:
    from scaffold.runtime.observability._metrics import RouteSeries

log = logging.getLogger("scaffold.metrics")

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_RESERVED = ("http_request", "process_")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def route_label(template: str | None) -> str:
    """A template as a ``route`` label: ``/items/{id:int}`` → ``/items/{id}``."""
    if template is None:
        return UNMATCHED
    return _FIELD.sub(r"{\1}", template)


def prometheus_name(name: str) -> str:
    """A registry metric name as Prometheus spells it: ``db.query-time`` → ``db_query_time``."""
    return _UNSAFE.sub("_", name)


class _Pending:
    """One route, method and status's requests not yet written: a count and a histogram."""

    __slots__ = ("buckets", "count", "counter", "histogram", "seconds")

    def __init__(self, counter: Any, histogram: Any, buckets: int) -> None:
        self.counter = counter
        self.histogram = histogram
        self.count = 0
        self.seconds = 0.0
        self.buckets = [0] * buckets


class PrometheusSink:
    """Export a service's metrics to Prometheus (a :class:`MetricSink`).

    Each worker has one; in multiprocess mode every update also lands in this worker's
    files, which :meth:`exposition` sums with the other workers'. A worker buffers its
    request metrics (:meth:`buffer`): a request adds to counts in memory, and :meth:`flush`
    (every second, before a scrape and at exit) writes them, a few file writes a series
    instead of three a request.
    """

    def __init__(self) -> None:
        # Imported here, not at module level: the master chooses multiprocess mode (an
        # environment variable prometheus_client reads at import) before any service exists.
        import prometheus_client

        self._prom = prometheus_client
        self.registry = prometheus_client.CollectorRegistry(auto_describe=True)
        self._requests = prometheus_client.Counter(
            "http_requests",
            "Requests served, by route template, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self._duration = prometheus_client.Histogram(
            "http_request_duration_seconds",
            "Time to serve a request, by route template and method.",
            ("route", "method"),
            registry=self.registry,
        )
        # Upper bounds of the duration buckets, in the histogram's order (the last is +Inf).
        self._bounds: list[float] = list(self._duration._upper_bounds)
        self._children: dict[tuple[RouteSeries, int], tuple[Any, Any]] = {}
        self._pending: dict[tuple[RouteSeries, int], _Pending] = {}
        self._buffered = False
        self._own: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._process: _ProcessMetrics | None = None  # made at the first reading

    # MetricSink -----------------------------------------------------------------------

    def request(self, series: RouteSeries, status: int, ms: float) -> None:
        """Count one request of ``series`` and observe its duration.

        Buffered, it only adds to this series' counts in memory (called on the event loop
        only, as is :meth:`flush`).
        """
        if self._buffered:
            pending = self._pending.get((series, status))
            if pending is None:
                pending = _Pending(*self._labelled(series, status), len(self._bounds))
                self._pending[(series, status)] = pending
            seconds = ms / 1000
            pending.count += 1
            pending.seconds += seconds
            # The first bucket whose bound is at least the duration, as Histogram.observe.
            pending.buckets[bisect.bisect_left(self._bounds, seconds)] += 1
            return
        counter, histogram = self._labelled(series, status)
        counter.inc()
        histogram.observe(ms / 1000)

    def _labelled(self, series: RouteSeries, status: int) -> tuple[Any, Any]:
        """The request counter and duration histogram of ``series`` and ``status``."""
        children = self._children.get((series, status))
        if children is None:
            route = route_label(series.template)
            children = (
                self._requests.labels(route, series.method, str(status)),
                self._duration.labels(route, series.method),
            )
            self._children[(series, status)] = children
        return children

    def buffer(self) -> None:
        """Keep request metrics in memory until :meth:`flush` (a worker does)."""
        self._buffered = True

    def flush(self) -> None:
        """Write the request metrics kept in memory (to this worker's files)."""
        pending, self._pending = self._pending, {}
        for series in pending.values():
            series.counter.inc(series.count)
            # What Histogram.observe does once per duration, done once per bucket here:
            # its sum and each bucket's count (prometheus_client keeps buckets uncumulated).
            histogram = series.histogram
            histogram._sum.inc(series.seconds)
            for index, count in enumerate(series.buckets):
                if count:
                    histogram._buckets[index].inc(count)

    def incr(self, name: str, count: int) -> None:
        """Add ``count`` to the service's counter ``name`` (a gauge summed over workers)."""
        metric = self._own.get(name) or self._make(name, "counter")
        if metric is not None:
            metric.inc(count)

    def gauge(self, name: str, value: float) -> None:
        """Set the service's gauge ``name`` in this worker."""
        metric = self._own.get(name) or self._make(name, "gauge")
        if metric is not None:
            metric.set(value)

    def timing(self, name: str, ms: float) -> None:
        """Observe one duration of the service's timer ``name``."""
        metric = self._own.get(name) or self._make(name, "timer")
        if metric is not None:
            metric.observe(ms / 1000)

    def _make(self, name: str, kind: str) -> Any:
        with self._lock:
            if name in self._own:
                return self._own[name]
            exported = prometheus_name(name)
            metric: Any = None
            prom = self._prom
            help_text = f"The service's {kind} {name}."
            try:
                if exported.startswith(_RESERVED):
                    msg = f"{exported} is a name the runtime exports itself"
                    raise ValueError(msg)
                if kind == "counter":
                    metric = prom.Gauge(
                        exported, help_text, registry=self.registry, multiprocess_mode="sum"
                    )
                elif kind == "gauge":
                    metric = prom.Gauge(
                        exported, help_text, registry=self.registry, multiprocess_mode="livesum"
                    )
                else:
                    metric = prom.Histogram(
                        f"{exported}_seconds", help_text, registry=self.registry
                    )
            except ValueError as ex:  # a name another metric takes in Prometheus
                log.warning("metric %s is not exported to Prometheus: %s", name, ex)
            self._own[name] = metric
            return metric

    # reading --------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read this worker's process metrics (CPU, memory, open files).

        They are made at the first reading, so a process that never serves (the master,
        which builds the service once to check it) adds nothing to the sums.
        """
        if self._process is None:
            with self._lock:
                if self._process is None:
                    self._process = _ProcessMetrics(self._prom, self.registry)
        self._process.refresh()

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition of every worker's metrics, and its content type."""
        prom = self._prom
        self.flush()
        self.refresh()
        folder = os.environ.get(MULTIPROCESS_ENV)
        if folder:
            from prometheus_client import multiprocess

            registry = prom.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
            return prom.generate_latest(registry), prom.CONTENT_TYPE_LATEST
        return prom.generate_latest(self.registry), prom.CONTENT_TYPE_LATEST


class _ProcessMetrics:
    """This worker's CPU time, memory and open files, as Prometheus' process metrics."""

    def __init__(self, prom: Any, registry: Any) -> None:
        self.cpu = prom.Counter(
            "process_cpu_seconds", "User and system CPU time of the workers.", registry=registry
        )
        self.memory = prom.Gauge(
            "process_resident_memory_bytes",
            "Resident memory of the live workers.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.fds = prom.Gauge(
            "process_open_fds",
            "Open file descriptors of the live workers.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.start = prom.Gauge(
            "process_start_time_seconds",
            "Start of the oldest live worker, in seconds since the epoch.",
            registry=registry,
            multiprocess_mode="livemin",
        )
        self._pid = -1
        self._cpu_seen = 0.0

    def refresh(self) -> None:
        pid = os.getpid()
        if pid != self._pid:  # first reading in this process (a worker is a fork)
            self._pid = pid
            self._cpu_seen = 0.0
            self.start.set(time.time())
        times = os.times()
        cpu = times.user + times.system
        if cpu > self._cpu_seen:
            self.cpu.inc(cpu - self._cpu_seen)
            self._cpu_seen = cpu
        with (
            contextlib.suppress(OSError, ValueError, IndexError),
            open("/proc/self/statm", encoding="ascii") as statm,
        ):
            self.memory.set(int(statm.read().split()[1]) * _PAGE_SIZE)
        with contextlib.suppress(OSError):
            self.fds.set(len(os.listdir("/proc/self/fd")))


class MultiprocessFolder:
    """The folder every worker of one master writes its Prometheus metrics to.

    Made fresh when the master starts (inside ``PROMETHEUS_MULTIPROC_DIR`` when the
    operator set one, else in the system's temporary folder), named in the environment the
    workers inherit, and removed when the master exits: counts start at zero with each
    start and survive reloads. It must exist before ``prometheus_client`` is first imported:
    the library picks its mode then.
    """

    def __init__(self) -> None:
        parent = os.environ.get(MULTIPROCESS_ENV) or None
        if parent is not None:
            os.makedirs(parent, exist_ok=True)
        self.path = tempfile.mkdtemp(prefix="scaffold-metrics-", dir=parent)
        self._owner = os.getpid()
        os.environ[MULTIPROCESS_ENV] = self.path
        atexit.register(self.remove)

    def worker_exited(self, pid: int) -> None:
        """Forget an exited worker's live gauges (its counts stay)."""
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, self.path)  # type: ignore[no-untyped-call]

    def remove(self) -> None:
        """Remove the folder and its files (in the master only: workers inherit the hook)."""
        if os.getpid() == self._owner:
            shutil.rmtree(self.path, ignore_errors=True)
