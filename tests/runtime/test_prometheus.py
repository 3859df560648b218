"""``GET /metrics/prometheus``: the text exposition format of route, service and process metrics."""

from __future__ import annotations

import logging

import falcon
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from scaffold.runtime import Service, parse_config
from scaffold.runtime.observability._metrics import MetricsRegistry
from scaffold.runtime.observability._prometheus import PrometheusSink, route_label
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


def scrape(service: Service) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of a scrape by name, keyed by its sorted labels (the parser is the judge)."""
    result = admin_client(service).simulate_get("/metrics/prometheus")
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/plain; version=")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(result.text):
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
    assert "metric http_requests is not exported to Prometheus" in caplog.text
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
        ("/items/{item_id:int}", "GET", 404, 0.0),
        ("/items/{item_id:int}", "GET", 200, 25_000.0),  # beyond 10 s: only +Inf
        ("/items", "POST", 201, 120.0),
        (None, "GET", 404, 0.2),
    ]
    for registry in registries:
        for template, method, status, ms in requests:
            registry.request(template, method, status, ms)
    assert (_requests_written(direct), _requests_written(buffered)) == (6, 0)
    buffered.flush()
    assert _exposed(buffered) == _exposed(direct)
    assert 'http_requests_total{method="GET",route="/items/{item_id}",status="200"} 3.0' in (
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
