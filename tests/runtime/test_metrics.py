"""Per-route metrics in statsd (through a real UDP socket) and the in-process registry."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time

import falcon
import falcon.asgi
import pytest
from falcon import testing

from scaffold.runtime import Config, DefinitionError, MetricsRegistry, Service, parse_config
from scaffold.runtime.context import Request
from scaffold.runtime.observability import ObserveMiddleware, _metrics
from scaffold.runtime.observability._metrics import RESERVOIR_SIZE, Timer, route_metric_name
from scaffold.runtime.testing import StatsdCapture, admin_client, client

QUIET = parse_config("logging:\n  access_log: null\n", env={})


class Greeting:
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        status = req.get_param_as_int("status")
        if status:
            resp.status = status
        resp.media = {"name": name}


class Root:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.text = "root"


def build(config: Config) -> Service:
    service = Service("acme-widgets", config)
    service.add_route("/", Root())
    service.add_route("/v1/greetings/{name}", Greeting())
    return service


@pytest.mark.parametrize(
    ("template", "name"),
    [
        ("/", "root"),
        (None, "unmatched"),
        ("/v1/greetings", "v1.greetings"),
        ("/v1/greetings/{name}", "v1.greetings.name"),
        ("/items/{item_id:int}/parts/{part}", "items.item_id.parts.part"),
        ("/files/{name}.{ext}", "files.name.ext"),
        ("/v1/items:batch", "v1.items_batch"),
    ],
    ids=["root", "unmatched", "static", "field", "converter", "two-fields", "unsafe-char"],
)
def test_route_metric_name(template, name):
    """Templates become dotted names; fields lose their braces and converters."""
    assert route_metric_name(template) == name


def test_statsd_exact_names_and_counts():
    """N requests give N datagrams with exact counter and timer names, any status included."""
    with StatsdCapture(prefix="acme") as statsd:
        service = build(statsd.apply(QUIET))
        app = client(service)
        for _ in range(3):
            assert app.simulate_get("/v1/greetings/ada").status_code == 200
        app.simulate_get("/v1/greetings/ada", params={"status": "418"})
        app.simulate_get("/v1/greetings/ada", params={"status": "429"})
        app.simulate_get("/")
        app.simulate_get("/wp-admin/setup.php")
        app.simulate_get("/etc/passwd")
        app.simulate_delete("/v1/greetings/ada")
        statsd.wait_for(18)
        assert statsd.datagrams == 9
        assert statsd.counters() == {
            "acme.v1.greetings.name.GET.200": 3,
            "acme.v1.greetings.name.GET.418": 1,
            "acme.v1.greetings.name.GET.429": 1,
            "acme.root.GET.200": 1,
            "acme.unmatched.GET.404": 2,
            "acme.v1.greetings.name.DELETE.405": 1,
        }
        timers = statsd.timers()
        assert sorted(timers) == [
            "acme.root.GET",
            "acme.unmatched.GET",
            "acme.v1.greetings.name.DELETE",
            "acme.v1.greetings.name.GET",
        ]
        assert len(timers["acme.v1.greetings.name.GET"]) == 5
        assert all(ms >= 0 for values in timers.values() for ms in values)


def test_prefix_defaults_to_service_name():
    """An empty metrics.statsd.prefix uses the service's name."""
    with StatsdCapture() as statsd:
        client(build(statsd.apply(QUIET))).simulate_get("/")
        statsd.wait_for(2)
        assert statsd.names() == ["acme-widgets.root.GET.200|c", "acme-widgets.root.GET|ms"]


def test_service_metrics_reach_statsd_and_registry():
    """counter(), timer() (context manager and decorator) and gauge() go to both places."""
    with StatsdCapture(prefix="acme") as statsd:
        service = build(statsd.apply(QUIET))
        created = service.counter("widgets.created")
        created.inc()
        created.inc(2)
        assert service.counter("widgets.created") is created
        with service.timer("db.query"):
            pass

        @service.timer("render")
        def render() -> str:
            return "done"

        assert render() == "done"
        service.gauge("queue.depth").set(7)
        service.gauge("pool.size", lambda: 4)
        statsd.wait_for(5)
        assert statsd.names() == [
            "acme.widgets.created|c",
            "acme.widgets.created|c",
            "acme.db.query|ms",
            "acme.render|ms",
            "acme.queue.depth|g",
        ]
        assert statsd.counters()["acme.widgets.created"] == 3
        body = admin_client(service).simulate_get("/metrics").json
        assert body["counters"]["widgets.created"] == 3
        assert body["timers"]["db.query"]["count"] == 1
        assert body["timers"]["render"]["count"] == 1
        assert body["gauges"] == {"pool.size": 4, "queue.depth": 7}


def test_closed_port_never_fails_requests(caplog):
    """Sending to a port nobody listens on leaves requests at 200 and logs at most once."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    config = parse_config(
        f"logging:\n  access_log: null\nmetrics:\n  statsd:\n    host: 127.0.0.1\n"
        f"    port: {port}\n",
        env={},
    )
    service = build(config)
    with caplog.at_level(logging.WARNING, logger="scaffold.metrics"):
        for _ in range(5):
            assert client(service).simulate_get("/v1/greetings/ada").status_code == 200
    assert len(caplog.records) <= 1


def test_unresolvable_host_never_fails_startup_or_requests(caplog):
    """An unresolvable statsd host is logged once; the service starts and serves."""
    config = parse_config(
        "logging:\n  access_log: null\nmetrics:\n  statsd:\n    host: statsd.invalid\n", env={}
    )
    with caplog.at_level(logging.WARNING, logger="scaffold.metrics"):
        service = build(config)
        for _ in range(3):
            assert client(service).simulate_get("/").status_code == 200
    assert len(caplog.records) == 1
    assert "statsd host statsd.invalid:8125 unavailable" in caplog.records[0].getMessage()
    assert service.statsd is not None
    assert not service.statsd.connected


def test_routes_sharing_a_metric_name_are_refused():
    """Two templates that would share a metric name are a start-up error."""
    service = build(QUIET)
    with pytest.raises(DefinitionError, match=r"v1\.greetings\.name"):
        service.add_route("/v1/greetings/name", Root())
    with pytest.raises(DefinitionError, match="unmatched"):
        service.add_route("/unmatched", Root())
    with pytest.raises(DefinitionError, match="root"):
        service.add_route("/root", Root())


def test_metric_kind_conflict_and_bad_names():
    """A name is one kind of metric; names are statsd-safe."""
    registry = MetricsRegistry()
    registry.counter("a.b")
    with pytest.raises(DefinitionError, match="already a counter"):
        registry.timer("a.b")
    for bad in ["", "a:b", "a|b", "a b", ".a", "a."]:
        with pytest.raises(DefinitionError):
            registry.counter(bad)


def test_timer_statistics():
    """Percentiles interpolate between ranks; everything is in milliseconds."""
    timer = Timer("t")
    for ms in range(1, 101):
        timer.update(float(ms))
    snap = timer.snapshot()
    assert snap == {
        "count": 100,
        "min": 1.0,
        "max": 100.0,
        "mean": 50.5,
        "p50": 50.5,
        "p75": 75.25,
        "p95": 95.05,
        "p99": 99.01,
    }
    assert Timer("empty").snapshot()["p99"] is None


def test_timer_memory_is_bounded_and_recent():
    """A timer keeps only the last RESERVOIR_SIZE samples; count covers all."""
    timer = Timer("t")
    for ms in range(10 * RESERVOIR_SIZE):
        timer.update(float(ms))
    snap = timer.snapshot()
    assert snap["count"] == 10 * RESERVOIR_SIZE
    assert snap["min"] == 9 * RESERVOIR_SIZE
    assert len(timer._window) == RESERVOIR_SIZE


def test_counters_and_timers_are_thread_safe():
    """Concurrent updates from many threads are all counted."""
    registry = MetricsRegistry()

    def work() -> None:
        for _ in range(2000):
            registry.counter("hits").inc()
            registry.timer("t").update(1.0)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert registry.counter("hits").count == 16000
    assert registry.timer("t").count == 16000


def test_metrics_endpoint_names_the_worker():
    """/metrics says which process answered, and has route metrics without the prefix."""
    import os

    service = build(QUIET)
    client(service).simulate_get("/v1/greetings/ada")
    body = admin_client(service).simulate_get("/metrics").json
    assert body["pid"] == os.getpid()
    assert "worker" in body["scope"]
    assert body["counters"] == {"v1.greetings.name.GET.200": 1}
    assert set(body["timers"]["v1.greetings.name.GET"]) == {
        "count",
        "min",
        "max",
        "mean",
        "p50",
        "p75",
        "p95",
        "p99",
    }


def _auth_config(extra: str = "") -> Config:
    from scaffold.runtime.passwords import hash_password

    encoded = hash_password("s3cret")
    return parse_config(
        "logging:\n  access_log: null\n"
        f'auth:\n  basic:\n    users:\n      ada: "{encoded}"\n'
        "server:\n  max_body_bytes: 8\n  max_in_flight: 1\n"
        'cors:\n  allow_origins: ["https://app.example.com"]\n' + extra,
        env={},
    )


def test_requests_refused_before_routing_count_under_their_route():
    """401, 413 and a CORS preflight on a real route are that route's, not unmatched."""
    with StatsdCapture(prefix="acme") as statsd:
        service = build(statsd.apply(_auth_config()))
        app = client(service)
        assert app.simulate_get("/v1/greetings/Ada").status_code == 401
        big = app.simulate_post(
            "/v1/greetings/Ada",
            body=b"x" * 9,
            headers={"Content-Type": "application/json", "Authorization": "Basic YWRhOnMzY3JldA=="},
        )
        assert big.status_code == 413
        preflight = app.simulate_options(
            "/v1/greetings/Ada",
            headers={
                "Origin": "https://app.example.com",
                "Access-Control-Request-Method": "GET",
            },
        )
        assert preflight.status_code == 204
        assert app.simulate_get("/nowhere").status_code == 401
        statsd.wait_for(8)
        assert statsd.counters() == {
            "acme.v1.greetings.name.GET.401": 1,
            "acme.v1.greetings.name.POST.413": 1,
            "acme.v1.greetings.name.OPTIONS.204": 1,
            "acme.unmatched.GET.401": 1,
        }
        counters = admin_client(service).simulate_get("/metrics").json["counters"]
        assert counters["v1.greetings.name.GET.401"] == 1


def test_shed_requests_count_under_their_route():
    """A 503 from max_in_flight is counted under the route the request asked for."""
    service = build(
        parse_config("logging:\n  access_log: null\nserver:\n  max_in_flight: 1\n", env={})
    )
    started, release = asyncio.Event(), asyncio.Event()

    class Slow:
        async def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            started.set()
            await release.wait()

    service.add_route("/slow", Slow())

    async def scenario() -> tuple[int, int]:
        async with testing.ASGIConductor(service.asgi) as conductor:
            slow = asyncio.create_task(conductor.simulate_get("/slow"))
            await started.wait()
            shed = await conductor.simulate_get("/v1/greetings/Ada")
            release.set()
            return (await slow).status_code, shed.status_code

    assert asyncio.run(scenario()) == (200, 503)
    counters = admin_client(service).simulate_get("/metrics").json["counters"]
    assert counters == {"slow.GET.200": 1, "v1.greetings.name.GET.503": 1}


def test_dogstatsd_tags_carry_route_method_and_status():
    """metrics.statsd.tags sends one counter and one timer name, tagged per request."""
    with StatsdCapture(prefix="acme") as statsd:
        config = statsd.apply(QUIET)
        config = parse_config(
            "logging:\n  access_log: null\n"
            f"metrics:\n  statsd:\n    port: {statsd.port}\n    prefix: acme\n    tags: true\n",
            env={},
        )
        app = client(build(config))
        app.simulate_get("/v1/greetings/Ada")
        app.simulate_get("/v1/greetings/Ada", params={"status": "404"})
        lines = statsd.wait_for(4)
    assert lines[0] == "acme.http.requests:1|c|#route:v1.greetings.name,method:GET,status:200"
    assert lines[2] == "acme.http.requests:1|c|#route:v1.greetings.name,method:GET,status:404"
    for line in (lines[1], lines[3]):
        name, _, rest = line.partition(":")
        value, _, tags = rest.partition("|ms|")
        assert name == "acme.http.request_duration"
        assert float(value) >= 0
        assert tags == "#route:v1.greetings.name,method:GET"


def test_gauges_that_read_are_sent_on_the_interval():
    """tick() reads gauges that read a callable every metrics.gauge_seconds, not more often."""
    readings = iter([3.0, 5.0, 8.0])
    with StatsdCapture(prefix="acme") as statsd:
        config = parse_config(
            "logging:\n  access_log: null\n"
            f"metrics:\n  gauge_seconds: 10\n  statsd:\n    port: {statsd.port}\n    prefix: acme\n",
            env={},
        )
        service = build(config)
        service.gauge("queue.depth", lambda: next(readings))
        service.gauge("set.by.hand").set(1.5)
        service.tick(now=100.0)
        service.tick(now=105.0)  # not due yet
        service.tick(now=110.0)
        lines = statsd.wait_for(3)
        assert statsd.collect(timeout=0.2) == lines
    assert lines == ["acme.set.by.hand:1.5|g", "acme.queue.depth:3.0|g", "acme.queue.depth:5.0|g"]


def test_timer_statistics_are_rounded_to_the_microsecond():
    """Every statistic is in milliseconds with three decimals, interpolated ones too."""
    timer = Timer("t")
    timer.update(1.23456)
    timer.update(2.34567)
    assert timer.snapshot() == {
        "count": 2,
        "min": 1.235,
        "max": 2.346,
        "mean": 1.79,
        "p50": 1.79,
        "p75": 2.068,
        "p95": 2.29,
        "p99": 2.335,
    }


def test_an_empty_timer_counts_zero_and_knows_no_statistics():
    """Before any duration: count 0 and null for every statistic."""
    assert Timer("t").snapshot() == {
        "count": 0,
        "min": None,
        "max": None,
        "mean": None,
        "p50": None,
        "p75": None,
        "p95": None,
        "p99": None,
    }


def test_a_full_timer_replaces_its_oldest_sample_first():
    """Once the window is full, each new duration takes the place of the oldest one."""
    timer = Timer("t", size=4)
    for ms in (1.0, 2.0, 3.0, 4.0, 5.0, 6.0):
        timer.update(ms)
    snap = timer.snapshot()
    assert (snap["count"], snap["min"], snap["max"], snap["mean"]) == (6, 3.0, 6.0, 4.5)


def test_a_timed_block_records_its_duration_in_milliseconds():
    """`with timer:` records the time the block took, in ms, within the time around it."""
    timer = Timer("t")
    before = time.perf_counter()
    with timer:
        time.sleep(0.05)
    around = (time.perf_counter() - before) * 1000
    recorded = timer.snapshot()["max"]
    assert recorded is not None
    assert 50 <= recorded <= around + 0.0005  # the snapshot rounds to 1 us


class SteppingClock:
    """A performance counter that moves on by ``step`` seconds at each reading."""

    def __init__(self, step: float) -> None:
        self.now = 100.0
        self.step = step

    def perf_counter(self) -> float:
        self.now += self.step
        return self.now


def test_timed_blocks_and_calls_record_the_time_between_two_readings_in_ms(monkeypatch):
    """`with timer:` and `@timer` record exactly the counter's difference, times 1000."""
    monkeypatch.setattr(_metrics, "time", SteppingClock(0.25))
    timer = Timer("t")
    with timer:
        pass
    timer(lambda: None)()
    stats = ("min", "max", "mean", "p50", "p75", "p95", "p99")
    assert timer.snapshot() == {"count": 2} | dict.fromkeys(stats, 250.0)


def test_metric_names_and_kinds_are_refused_with_a_message():
    """The message names the metric and says what is wrong with it."""
    registry = MetricsRegistry()
    registry.counter("a.b")
    with pytest.raises(DefinitionError) as info:
        registry.timer("a.b")
    assert str(info.value) == "metric 'a.b' is already a counter, not a timer"
    with pytest.raises(DefinitionError) as info:
        registry.gauge("a:b")
    assert str(info.value) == (
        "metric name 'a:b' must be dotted words of letters, digits, '_' or '-'"
    )


def test_route_metric_names_keep_the_templates_letters():
    """Only slashes are stripped from a template's ends, never the letters next to them."""
    assert route_metric_name("/XL/sizes/X") == "XL.sizes.X"


def test_gauges_nobody_set_and_gauges_that_fail_are_null_and_never_sent():
    """/metrics shows null for both; a worker's periodic reading sends only working gauges."""
    with StatsdCapture(prefix="acme") as statsd:
        service = build(statsd.apply(QUIET))
        service.gauge("never.set")
        service.gauge("broken", lambda: 1 / 0)
        service.gauge("pool.size", lambda: 4)
        service.tick(now=0.0)
        assert statsd.wait_for(1) == ["acme.pool.size:4|g"]
        assert statsd.collect(timeout=0.2) == ["acme.pool.size:4|g"]
    gauges = admin_client(service).simulate_get("/metrics").json["gauges"]
    assert gauges == {"broken": None, "never.set": None, "pool.size": 4}


def test_each_status_of_a_route_has_its_own_counter():
    """/metrics counts a route's answers per status, however they interleave."""
    service = build(QUIET)
    app = client(service)
    for status in ("200", "404", "200", "503", "404", "200"):
        app.simulate_get("/v1/greetings/ada", params={"status": status})
    app.simulate_put("/v1/greetings/ada")
    body = admin_client(service).simulate_get("/metrics").json
    assert body["counters"] == {
        "v1.greetings.name.GET.200": 3,
        "v1.greetings.name.GET.404": 2,
        "v1.greetings.name.GET.503": 1,
        "v1.greetings.name.PUT.405": 1,
    }
    assert body["timers"]["v1.greetings.name.GET"]["count"] == 6
    assert body["scope"] == (
        "this worker process only: each gunicorn worker keeps its own registry; "
        "/metrics/prometheus and statsd have every worker's totals"
    )


class AsyncGreeting:
    async def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        resp.status = req.get_param_as_int("status", default=200)


class Refuse:
    """Refuses requests that ask for it before routing, as auth or body limits do."""

    async def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.get_header("X-Refuse"):
            raise falcon.HTTPUnauthorized(title="refused")


def test_the_route_is_looked_up_again_only_for_requests_refused_before_routing():
    """Served requests know their route and unmatched 404s have none: neither is looked up."""
    asked: list[str] = []

    def find_route(req: falcon.Request) -> str | None:
        asked.append(req.path)
        return "/v1/greetings/{name}" if req.path.startswith("/v1/greetings/") else None

    registry = MetricsRegistry()
    observer = ObserveMiddleware(
        access_log=None, request_log=None, metrics=registry, find_route=find_route
    )
    app = falcon.asgi.App(middleware=[observer, Refuse()], request_type=Request)
    app.add_route("/v1/greetings/{name}", AsyncGreeting())
    bare = testing.TestClient(app)
    assert bare.simulate_get("/v1/greetings/ada").status_code == 200
    assert bare.simulate_get("/v1/greetings/ada", params={"status": "404"}).status_code == 404
    assert bare.simulate_get("/nowhere").status_code == 404
    assert bare.simulate_get("/v1/greetings/ada", headers={"X-Refuse": "1"}).status_code == 401
    assert asked == ["/v1/greetings/ada"]
    assert registry.snapshot()["counters"] == {
        "v1.greetings.name.GET.200": 1,
        "v1.greetings.name.GET.404": 1,
        "unmatched.GET.404": 1,
        "v1.greetings.name.GET.401": 1,
    }
