"""``GET /metrics/prometheus``: the text exposition format of route, service and process metrics."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import falcon
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

import scaffold
from scaffold.runtime import Service, parse_config
from scaffold.runtime.observability import MultiprocessFolder
from scaffold.runtime.observability._metrics import MetricsRegistry
from scaffold.runtime.observability._prometheus import (
    MULTIPROCESS_ENV,
    PrometheusSink,
    route_label,
)
from scaffold.runtime.testing import admin_client, client

QUIET = parse_config("logging:\n  access_log: null\n", env={})


class Item:
    async def on_get(self, req: falcon.Request, resp: falcon.Response, item_id: int) -> None:
        if item_id > 100:
            raise falcon.HTTPNotFound(description="No such item.")
        resp.media = {"id": item_id}


def build() -> Service:
    service = Service("acme-widgets", QUIET)
    service.add_route("/items/{item_id:int}", Item())
    return service


def exposition(service: Service) -> str:
    """The text of one scrape of the admin port's /metrics/prometheus."""
    result = admin_client(service).simulate_get("/metrics/prometheus")
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/plain; version=")
    return result.text


def scrape(service: Service) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of a scrape by name, keyed by its sorted labels (the parser is the judge)."""
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(exposition(service)):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


def test_route_requests_and_durations_by_template_method_and_status() -> None:
    """http_requests_total and the duration histogram name routes by template, never by path."""
    service = build()
    app = client(service)
    for item_id in (1, 2, 3):
        assert app.simulate_get(f"/items/{item_id}").status_code == 200
    assert app.simulate_get("/items/500").status_code == 404
    assert app.simulate_get("/nowhere").status_code == 404
    samples = scrape(service)
    route = ("route", "/items/{item_id}")
    assert samples["http_requests_total"] == {
        (("method", "GET"), route, ("status", "200")): 3.0,
        (("method", "GET"), route, ("status", "404")): 1.0,
        (("method", "GET"), ("route", "unmatched"), ("status", "404")): 1.0,
    }
    counts = samples["http_request_duration_seconds_count"]
    assert counts[(("method", "GET"), route)] == 4.0
    buckets = samples["http_request_duration_seconds_bucket"]
    assert buckets[(("le", "+Inf"), ("method", "GET"), route)] == 4.0
    assert 0 < samples["http_request_duration_seconds_sum"][(("method", "GET"), route)] < 4


def test_the_services_own_metrics_are_exported() -> None:
    """Counters (which may go down), gauges and timers (as histograms in seconds)."""
    service = build()
    served = service.counter("orders.served")
    served.inc(5)
    served.dec()
    service.gauge("queue-depth").set(7)
    service.gauge("cache.size", lambda: 42.0)
    with service.timer("db.query"):
        pass
    service.tick(now=0.0)  # a worker reads the gauges that read a callable
    samples = scrape(service)
    assert samples["orders_served"] == {(): 4.0}
    assert samples["queue_depth"] == {(): 7.0}
    assert samples["cache_size"] == {(): 42.0}
    assert samples["db_query_seconds_count"] == {(): 1.0}


def test_process_metrics_are_exported() -> None:
    """CPU time, resident memory, open files and start time of the process."""
    samples = scrape(build())
    assert samples["process_cpu_seconds_total"][()] > 0
    assert samples["process_resident_memory_bytes"][()] > 10_000_000
    assert samples["process_open_fds"][()] >= 3
    assert samples["process_start_time_seconds"][()] > 1_700_000_000


def test_a_name_the_runtime_exports_itself_is_refused_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A service metric that would shadow http_requests is logged, never a failed request."""
    service = build()
    caplog.set_level(logging.WARNING, "scaffold.metrics")
    service.counter("http_requests").inc()
    assert client(service).simulate_get("/items/1").status_code == 200
    assert [record.getMessage() for record in caplog.records] == [
        "metric http_requests is not exported to Prometheus: "
        "http_requests is a name the runtime exports itself"
    ]
    assert scrape(service)["http_requests_total"]


@pytest.mark.parametrize(
    ("template", "label"),
    [
        (None, "unmatched"),
        ("/", "/"),
        ("/items/{item_id:int}", "/items/{item_id}"),
        ("/a/{x:int(min=1)}/b/{y}", "/a/{x}/b/{y}"),
    ],
    ids=["unmatched", "root", "converter", "converter-args"],
)
def test_route_label(template: str | None, label: str) -> None:
    """The route label is the template without its converters."""
    assert route_label(template) == label


def test_the_json_metrics_say_they_are_one_workers_view() -> None:
    """/metrics names its pid and points at /metrics/prometheus for the totals."""
    body = admin_client(build()).simulate_get("/metrics").json
    assert "this worker process only" in body["scope"]
    assert "/metrics/prometheus" in body["scope"]


def _requests_written(sink: PrometheusSink) -> float:
    """Requests this sink's registry holds (what a scrape of this process would read)."""
    text = generate_latest(sink.registry).decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "http_requests_total"
    )


def _exposed(sink: PrometheusSink) -> list[str]:
    """The sink's own registry as text, without the `_created` times that differ per sink."""
    text = generate_latest(sink.registry).decode()
    return [line for line in text.splitlines() if "_created" not in line]


def test_buffered_request_metrics_are_written_exactly_as_unbuffered_ones() -> None:
    """A worker's buffered counts, once flushed, are what one write per request would give.

    Durations on a bucket's bound, between bounds, beyond the last finite bound and zero;
    two statuses sharing one histogram; nothing is written before the flush.
    """
    direct, buffered = PrometheusSink(), PrometheusSink()
    buffered.buffer()
    registries = MetricsRegistry(direct), MetricsRegistry(buffered)
    requests = [
        ("/items/{item_id:int}", "GET", 200, 5.0),  # 0.005 s: on the first bound
        ("/items/{item_id:int}", "GET", 200, 7.5),
        ("/items/{item_id:int}", "GET", 200, 9.0),  # the same bucket as 7.5 ms
        ("/items/{item_id:int}", "GET", 404, 0.0),
        ("/items/{item_id:int}", "GET", 200, 25_000.0),  # beyond 10 s: only +Inf
        ("/items", "POST", 201, 120.0),
        (None, "GET", 404, 0.2),
    ]
    for registry in registries:
        for template, method, status, ms in requests:
            registry.request(template, method, status, ms)
    assert (_requests_written(direct), _requests_written(buffered)) == (7, 0)
    buffered.flush()
    assert _exposed(buffered) == _exposed(direct)
    assert 'http_requests_total{method="GET",route="/items/{item_id}",status="200"} 4.0' in (
        _exposed(buffered)
    )
    buffered.flush()  # nothing new: nothing counted twice
    assert _exposed(buffered) == _exposed(direct)


def test_a_worker_writes_buffered_request_metrics_each_tick_and_at_each_scrape() -> None:
    """Buffered as in a worker, requests reach Prometheus at the tick or at a scrape."""
    service = build()
    service.buffer_output()
    app = client(service)
    key = (("method", "GET"), ("route", "/items/{item_id}"), ("status", "200"))
    assert app.simulate_get("/items/1").status_code == 200
    assert _requests_written(service.prometheus) == 0
    service.tick()
    assert _requests_written(service.prometheus) == 1
    assert app.simulate_get("/items/2").status_code == 200
    assert scrape(service)["http_requests_total"][key] == 2.0
    service.close()


def test_each_metric_says_what_it_counts() -> None:
    """The HELP line of every family: the runtime's own, and the service's by kind and name."""
    service = build()
    assert client(service).simulate_get("/items/1").status_code == 200
    service.counter("orders.served").inc()
    service.gauge("queue-depth").set(1)
    service.timer("db.query").update(1.0)
    helps = {
        family.name: family.documentation
        for family in text_string_to_metric_families(exposition(service))
    }
    expected = {
        "http_requests": "Requests served, by route template, method and status.",
        "http_request_duration_seconds": "Time to serve a request, by route template and method.",
        "orders_served": "The service's counter orders.served.",
        "queue_depth": "The service's gauge queue-depth.",
        "db_query_seconds": "The service's timer db.query.",
        "process_cpu_seconds": "User and system CPU time of the workers.",
        "process_resident_memory_bytes": "Resident memory of the live workers.",
        "process_open_fds": "Open file descriptors of the live workers.",
        "process_start_time_seconds": "Start of the oldest live worker, in seconds since the epoch.",
    }
    assert {name: helps.get(name) for name in expected} == expected


def test_durations_are_histograms_in_seconds() -> None:
    """A timer's or a request's duration in milliseconds lands in buckets and sum as seconds."""
    service = build()
    service.timer("db.query").update(250.0)
    service.timer("db.query").update(2.0)
    service.metrics.request("/items/{item_id:int}", "GET", 200, 250.0)
    samples = scrape(service)
    route = (("method", "GET"), ("route", "/items/{item_id}"))
    assert samples["http_request_duration_seconds_sum"] == {route: 0.25}
    assert samples["db_query_seconds_sum"] == {(): 0.252}
    buckets = samples["db_query_seconds_bucket"]
    assert (buckets[(("le", "0.005"),)], buckets[(("le", "0.1"),)]) == (1.0, 1.0)
    assert (buckets[(("le", "0.25"),)], buckets[(("le", "+Inf"),)]) == (2.0, 2.0)


def test_process_metrics_follow_the_process_from_scrape_to_scrape() -> None:
    """CPU time is the process's own, counted once however often it is read; the start stays."""
    service = build()
    first = scrape(service)
    times = os.times()
    before = times.user + times.system
    while sum(os.times()[:2]) < before + 0.05:  # CPU time moves on between the two scrapes
        pass
    second = scrape(service)
    times = os.times()
    after = times.user + times.system
    assert before <= second["process_cpu_seconds_total"][()] <= after
    assert second["process_start_time_seconds"] == first["process_start_time_seconds"]


@pytest.mark.parametrize("made", [True, False], ids=["existing", "to-be-made"])
def test_the_master_makes_a_fresh_folder_in_the_operators_one_and_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, made: bool
) -> None:
    """Inside PROMETHEUS_MULTIPROC_DIR (made if need be), named for the workers, then gone.

    Removing it again, or once someone else has, is no error (the master's exit hook does).
    """
    given = tmp_path if made else tmp_path / "metrics" / "acme"
    monkeypatch.setenv(MULTIPROCESS_ENV, str(given))
    folder = MultiprocessFolder()
    path = Path(folder.path)
    assert path.parent == given
    assert path.name.startswith("scaffold-metrics-")
    assert path.is_dir() and not any(path.iterdir())
    assert os.environ[MULTIPROCESS_ENV] == folder.path
    (path / "counter_123.db").write_bytes(b"")
    folder.remove()
    assert not path.exists()
    folder.remove()


def test_without_an_operators_folder_the_master_makes_one_in_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PROMETHEUS_MULTIPROC_DIR unset or empty: a fresh folder in the system's temporary one."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    monkeypatch.setenv(MULTIPROCESS_ENV, "")
    folder = MultiprocessFolder()
    assert Path(folder.path).parent == tmp_path
    assert os.environ[MULTIPROCESS_ENV] == folder.path
    folder.remove()


def test_a_worker_leaving_does_not_remove_the_masters_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers inherit the master's exit hook; in them it leaves the folder alone."""
    monkeypatch.setenv(MULTIPROCESS_ENV, str(tmp_path))
    folder = MultiprocessFolder()
    pid = os.fork()
    if pid == 0:  # the worker: runs the hook as it exits, then goes
        try:
            folder.remove()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert Path(folder.path).is_dir()
    folder.remove()
    assert not Path(folder.path).exists()


def serve(service: Service, requests: int) -> Service:
    """What a worker does in the tests below: serve, count, set a gauge, time, tick."""
    app = client(service)
    for _ in range(requests):
        assert app.simulate_get("/items/1").status_code == 200
    service.counter("orders.served").inc(requests)
    service.gauge("queue-depth").set(5)
    service.timer("db.query").update(250.0)
    service.tick(now=0.0)  # what a worker does every second: its process metrics are read
    return service


WORKER = """
import os, sys, time
sys.path.insert(0, sys.argv[1])
from test_prometheus import build, serve
serve(build(), int(sys.argv[2]))
print(os.getpid(), time.time())
"""


def run_worker(requests: int) -> tuple[int, float]:
    """A worker process of the same code as this test: :func:`serve`, then exit.

    Returns its pid and a time just after it first read its process metrics.
    """
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(Path(__file__).parent), str(requests)],
        env={**os.environ, "PYTHONPATH": str(Path(scaffold.__file__).parents[1])},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    pid, read_by = done.stdout.split()
    return int(pid), float(read_by)


def test_a_scrape_sums_the_metrics_of_every_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `scaffold run` a scrape adds up every worker's files in the master's folder.

    Requests, counters, timers and CPU time count for every worker that ran, exited ones too;
    gauges, memory and open files for the live workers only; the start time is the oldest
    live worker's. Each is one series, never one per worker.
    """
    alone = scrape(serve(build(), 1))  # one worker on its own: its metrics in memory
    monkeypatch.setenv(MULTIPROCESS_ENV, str(tmp_path))
    folder = MultiprocessFolder()
    started = time.time()
    exited, _ = run_worker(2)
    folder.worker_exited(exited)
    live, read_by = run_worker(3)
    samples = scrape(build())
    folder.remove()
    # The same series as one worker's (but the _created times, not kept across processes).
    assert {name: set(series) for name, series in samples.items()} == {
        name: set(series) for name, series in alone.items() if not name.endswith("_created")
    }
    route = (("method", "GET"), ("route", "/items/{item_id}"), ("status", "200"))
    assert samples["http_requests_total"] == {route: 5.0}
    assert samples["http_request_duration_seconds_count"] == {route[:2]: 5.0}
    assert samples["orders_served"] == {(): 5.0}
    assert samples["queue_depth"] == {(): 5.0}
    assert samples["db_query_seconds_count"] == {(): 2.0}
    assert samples["db_query_seconds_sum"] == {(): 0.5}
    memory = samples["process_resident_memory_bytes"][()]
    assert 10_000_000 < memory < 1_000_000_000  # one worker's, not two
    assert started < samples["process_start_time_seconds"][()] <= read_by
    assert exited != live


def test_a_forked_worker_starts_its_own_process_metrics() -> None:
    """A worker is a fork: its first reading starts its own clock, whatever its parent read."""
    service = build()
    parent = scrape(service)["process_start_time_seconds"][()]
    time.sleep(0.01)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: reads its metrics once, hands the text over, and goes
        try:
            os.write(writer, service.prometheus.exposition()[0])
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        text = pipe.read().decode()
    os.waitpid(pid, 0)
    (start,) = (
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "process_start_time_seconds"
    )
    assert start > parent
