"""JSON logs, Prometheus summed across workers, gauges on an interval, the profiler and OTLP
traces, each on a real `scaffold run`."""

from __future__ import annotations

import json
import os
import pstats
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from otlp_receiver import OTLPReceiver
from prometheus_client.parser import text_string_to_metric_families
from serving import ServerProcess, request

from scaffold.runtime.testing import StatsdCapture

pytestmark = pytest.mark.e2e

ADDITIONS = '''

import hashlib
import logging
import os

import falcon

log = logging.getLogger("acme_widgets.requests")


class Pid:
    async def on_get(self, req, resp) -> None:
        resp.media = {"pid": os.getpid()}


class Chatty:
    def on_get(self, req, resp, name: str) -> None:
        """A plain handler (on the worker's thread pool) that logs, or fails."""
        if name == "fail":
            raise RuntimeError("the database went away")
        log.warning("greeted %s", name)
        resp.media = {"name": name}


def crunch(rounds: int) -> str:
    digest = b""
    for _ in range(rounds):
        digest = hashlib.sha256(digest).digest()
    return digest.hex()


class Work:
    def on_get(self, req, resp) -> None:
        resp.media = {"digest": crunch(20_000)}


_create = create_service


def create_service(config: Config) -> Service:
    service = _create(config)
    service.add_route("/v1/pid", Pid())
    service.add_route("/v1/chatty/{name}", Chatty())
    service.add_route("/v1/work", Work())
    service.gauge("worker.pid", lambda: float(os.getpid()))
    return service
'''

ACCESS_KEYS = {
    "time",
    "remote",
    "user",
    "method",
    "path",
    "query",
    "protocol",
    "status",
    "bytes",
    "referer",
    "user_agent",
    "duration_ms",
    "request_id",
}
APP_KEYS = {"time", "level", "logger", "message"}


@pytest.fixture
def observed(service_root: Path) -> Path:
    """The rendered service with routes that log, fail, work and tell their worker's pid."""
    app = service_root / "acme_widgets" / "app.py"
    app.write_text(app.read_text() + ADDITIONS)
    return service_root


def scrape(server: ServerProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """One scrape of /metrics/prometheus, on a fresh connection (any worker may answer)."""
    assert server.admin is not None
    status, headers, body = request(server.admin, "GET", "/metrics/prometheus")
    assert status == 200, body
    assert headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def test_json_logs_make_every_line_of_output_one_object(
    serve: Callable[..., ServerProcess], observed: Path
) -> None:
    """gunicorn's lines, scaffold's, the service's and the access log: all JSON, documented keys."""
    server = serve("--workers", "2", env={"ACME_WIDGETS_LOG_FORMAT": "json"})
    assert server.app is not None
    status, _, _ = request(server.app, "GET", "/v1/chatty/Ada", headers={"X-Request-Id": "r-ada"})
    assert status == 200
    status, _, _ = request(server.app, "GET", "/v1/chatty/fail", headers={"X-Request-Id": "r-bad"})
    assert status == 500
    assert server.stop() == 0
    lines = [json.loads(line) for line in server.output.splitlines()]  # each line parses
    access = [line for line in lines if "status" in line]
    app = [line for line in lines if "status" not in line]
    assert [(a["path"], a["status"], a["request_id"]) for a in access] == [
        ("/v1/chatty/Ada", 200, "r-ada"),
        ("/v1/chatty/fail", 500, "r-bad"),
    ]
    assert all(set(a) == ACCESS_KEYS for a in access)
    for line in app:
        assert APP_KEYS <= set(line) <= APP_KEYS | {"request_id", "exc"}, line
    loggers = {line["logger"] for line in app}
    assert {"gunicorn.error", "scaffold.server", "acme_widgets.requests"} <= loggers
    (greeted,) = [line for line in app if line["logger"] == "acme_widgets.requests"]
    assert (greeted["message"], greeted["request_id"]) == ("greeted Ada", "r-ada")
    (failed,) = [line for line in app if line["logger"] == "scaffold.errors"]
    assert failed["request_id"] == "r-bad"
    assert failed["exc"].endswith("RuntimeError: the database went away")


def test_a_prometheus_scrape_sums_every_worker_and_keeps_exited_ones(
    serve: Callable[..., ServerProcess], observed: Path
) -> None:
    """Whichever worker answers, the scrape counts all requests; a reload loses none."""
    server = serve("--workers", "2")
    assert server.app is not None and server.admin is not None
    served: dict[int, int] = {}
    while len(served) < 2 or sum(served.values()) < 20:
        assert sum(served.values()) < 400, "one worker took every connection"
        _, _, body = request(server.app, "GET", "/v1/pid")
        pid = json.loads(body)["pid"]
        served[pid] = served.get(pid, 0) + 1
    total = sum(served.values())
    # Each worker's own view (/metrics) holds only its share...
    seen: dict[int, int] = {}
    deadline = time.monotonic() + 20
    while set(seen) != set(served):
        assert time.monotonic() < deadline, seen
        _, _, body = request(server.admin, "GET", "/metrics")
        view = json.loads(body)
        seen[view["pid"]] = view["counters"].get("v1.pid.GET.200", 0)
    assert seen == served
    assert all(count < total for count in seen.values())
    # ...while every scrape, from any worker, holds the sum: at once for the worker that
    # answers, within a tick (a second) for the others, which write their counts then.
    key = ("http_requests_total", (("method", "GET"), ("route", "/v1/pid"), ("status", "200")))
    deadline = time.monotonic() + 5
    while scrape(server).get(key) != total:
        assert time.monotonic() < deadline, scrape(server).get(key)
        time.sleep(0.1)
    for _ in range(6):
        assert scrape(server)[key] == total
    histogram = ("http_request_duration_seconds_count", (("method", "GET"), ("route", "/v1/pid")))
    assert scrape(server)[histogram] == total
    assert scrape(server)[("process_resident_memory_bytes", ())] > 2 * 10_000_000
    # A reload replaces both workers; their counts stay.
    listening = server.output.count("app listening on")
    server.signal(signal.SIGHUP)
    server.wait_for_output("app listening on")
    deadline = time.monotonic() + 30
    while server.output.count("app listening on") == listening or any(
        _alive(pid) for pid in served
    ):
        assert time.monotonic() < deadline, server.output
        time.sleep(0.1)
    assert scrape(server)[key] == total
    assert server.stop() == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_gauges_that_read_reach_statsd_from_every_worker(
    serve: Callable[..., ServerProcess], observed: Path
) -> None:
    """Each worker reads its gauges every metrics.gauge_seconds and sends them (real UDP)."""
    with StatsdCapture() as statsd:
        config = observed / "statsd.yml"
        config.write_text(
            "metrics:\n"
            "  gauge_seconds: 1\n"
            f"  statsd: {{host: 127.0.0.1, port: {statsd.port}, prefix: acme}}\n"
        )
        server = serve("--workers", "2", "--config", str(config))
        pids: set[str] = set()
        deadline = time.monotonic() + 20
        while len(pids) < 2:
            assert time.monotonic() < deadline, (statsd.lines, server.output)
            statsd.collect(timeout=0.2)
            pids = {
                line.split(":")[1].split("|")[0]
                for line in statsd.lines
                if line.startswith("acme.worker.pid:")
            }
        assert all(re.fullmatch(r"\d+\.0", pid) for pid in pids), pids
        assert server.stop() == 0


def test_the_profiler_answers_a_pstats_file_of_the_workers_threads(
    serve: Callable[..., ServerProcess], observed: Path, tmp_path: Path
) -> None:
    """POST /tasks/profile sees the plain handlers' work on the pool threads; GET is 405."""
    server = serve("--workers", "1")
    assert server.app is not None and server.admin is not None
    assert request(server.admin, "GET", "/tasks/profile?seconds=1")[0] == 405
    stop = threading.Event()

    def traffic() -> None:
        assert server.app is not None
        while not stop.is_set():
            request(server.app, "GET", "/v1/work")

    clients = [threading.Thread(target=traffic) for _ in range(2)]
    for client in clients:
        client.start()
    try:
        status, headers, body = request(server.admin, "POST", "/tasks/profile?seconds=2")
    finally:
        stop.set()
        for client in clients:
            client.join()
    assert status == 200, body
    assert re.fullmatch(
        r'attachment; filename="acme-widgets-\d+-\d{8}T\d{6}Z\.pstats"',
        headers["content-disposition"],
    )
    path = tmp_path / "worker.pstats"
    path.write_bytes(body)
    stats = pstats.Stats(str(path))
    functions = {name for (_, _, name) in stats.stats}  # type: ignore[attr-defined]
    assert {"crunch", "Work.on_get"} <= functions, sorted(functions)[:50]
    assert server.stop() == 0


def test_traces_reach_an_otlp_collector(
    serve: Callable[..., ServerProcess], observed: Path
) -> None:
    """A span per request over OTLP/HTTP, in the caller's trace, named after the route."""
    trace_id, span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    with OTLPReceiver() as receiver:
        config = observed / "traced.yml"
        config.write_text(f"tracing:\n  endpoint: {receiver.endpoint}\n")
        server = serve("--workers", "2", "--config", str(config))
        assert server.app is not None
        status, headers, _ = request(
            server.app,
            "GET",
            "/v1/greetings/Ada",
            headers={"traceparent": f"00-{trace_id}-{span_id}-01"},
        )
        assert (status, headers["x-request-id"]) == (200, trace_id)
        assert server.stop() == 0  # a worker exports what it holds as it exits
        (span,) = [s for s in receiver.wait_for(1) if s["trace_id"] == trace_id]
    assert span["name"] == "GET /v1/greetings/{name}"
    assert span["parent_span_id"] == span_id
    assert span["attributes"]["http.route"] == "/v1/greetings/{name}"
    assert span["resource"]["service.name"] == "acme-widgets"
