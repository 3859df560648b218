"""The statsd sink on its own: lines, datagrams and failures, through real UDP sockets."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from scaffold.runtime import MetricsRegistry
from scaffold.runtime.observability import StatsdSink, _statsd
from scaffold.runtime.observability._statsd import LOOPBACK_UDP_SIZE
from scaffold.runtime.testing import StatsdCapture

UNRESOLVABLE = "statsd.invalid"


@pytest.fixture
def statsd() -> Iterator[StatsdCapture]:
    """A real statsd server on 127.0.0.1."""
    with StatsdCapture() as capture:
        yield capture


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The scaffold.metrics log from INFO up."""
    caplog.set_level(logging.INFO, "scaffold.metrics")
    return caplog


@contextlib.contextmanager
def threads_started() -> Iterator[list[tuple[str, bool]]]:
    """Record the name and daemon flag of each thread started meanwhile (in that thread)."""
    started: list[tuple[str, bool]] = []

    def record(frame: FrameType, event: str, arg: Any) -> None:
        thread = threading.current_thread()
        started.append((thread.name, thread.daemon))
        sys.settrace(None)  # called once, as the thread starts: trace nothing further

    threading.settrace(record)  # type: ignore[arg-type]
    try:
        yield started
    finally:
        threading.settrace(None)  # type: ignore[arg-type]


def wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def open_sockets() -> dict[int, str]:
    """This process's socket descriptors, with the kernel's name of each socket."""
    sockets = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:"):
                sockets[int(fd)] = target
    return sockets


def closed_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


def test_a_sink_made_by_hand_sends_plain_lines_without_prefix_or_tags(
    statsd: StatsdCapture,
) -> None:
    """StatsdSink(host, port) prefixes nothing and sends per-route names, not tags."""
    sink = StatsdSink("127.0.0.1", statsd.port)
    sink.incr("hits")
    sink.timing("db", 5.5)
    sink.gauge("depth", 3)
    MetricsRegistry(sink).request("/v1/items/{id}", "GET", 200, 1.5)
    assert statsd.wait_for(5) == [
        "hits:1|c",
        "db:5.500000|ms",
        "depth:3|g",
        "v1.items.id.GET.200:1|c",
        "v1.items.id.GET:1.500000|ms",
    ]
    sink.close()


def test_a_negative_gauge_is_reset_then_set_in_one_datagram(statsd: StatsdCapture) -> None:
    """statsd reads '-5|g' as a change: the sink sends '0|g' first, both in one datagram."""
    sink = StatsdSink("127.0.0.1", statsd.port, "acme")
    sink.gauge("temperature", -5)
    assert statsd.wait_for(2) == ["acme.temperature:0|g", "acme.temperature:-5|g"]
    assert statsd.datagrams == 1
    sink.close()


def test_a_non_ascii_prefix_reaches_statsd_with_question_marks(statsd: StatsdCapture) -> None:
    """statsd lines are ASCII: a character they cannot carry is sent as '?', never an error."""
    sink = StatsdSink("127.0.0.1", statsd.port, "métriques")
    sink.incr("hits")
    MetricsRegistry(sink).request("/x", "GET", 200, 1.0)
    tagged = StatsdSink("127.0.0.1", statsd.port, "métriques", tags=True)
    MetricsRegistry(tagged).request("/x", "GET", 200, 1.0)
    assert statsd.wait_for(5) == [
        "m?triques.hits:1|c",
        "m?triques.x.GET.200:1|c",
        "m?triques.x.GET:1.000000|ms",
        "m?triques.http.requests:1|c|#route:x,method:GET,status:200",
        "m?triques.http.request_duration:1.000000|ms|#route:x,method:GET",
    ]
    sink.close()
    tagged.close()


def test_buffered_lines_fill_datagrams_up_to_the_loopback_size(statsd: StatsdCapture) -> None:
    """Buffered lines leave when the next would overflow a datagram, or at flush."""
    sink = StatsdSink("127.0.0.1", statsd.port)
    sink.buffered = True
    line = b"x" * 127  # with its separator, 128 bytes: 64 fill a datagram to the byte
    fit = LOOPBACK_UDP_SIZE // (len(line) + 1)
    for _ in range(fit):
        sink.queue(line)
    assert statsd.collect(timeout=0.1) == []
    sink.queue(line)  # one too many: the full datagram leaves
    assert statsd.wait_for(fit) == [line.decode()] * fit
    assert statsd.datagrams == 1
    sink.flush()
    statsd.wait_for(fit + 1)
    assert statsd.datagrams == 2
    for _ in range(fit):  # after a flush, a datagram holds as many again
        sink.queue(line)
    assert statsd.collect(timeout=0.1) == [line.decode()] * (fit + 1)
    sink.flush()
    assert statsd.wait_for(2 * fit + 1) == [line.decode()] * (2 * fit + 1)
    assert statsd.datagrams == 3
    sink.close()


def test_lines_queued_in_one_loop_iteration_leave_in_one_datagram(statsd: StatsdCapture) -> None:
    """Lines leave together when the callbacks of their iteration are done, not one by one."""
    sink = StatsdSink("127.0.0.1", statsd.port)

    async def interleaved() -> None:
        loop = asyncio.get_running_loop()
        sink.queue(b"a:1|c")
        loop.call_soon(sink.queue, b"b:1|c")  # runs after the flush "a" scheduled
        sink.queue(b"c:1|c")
        loop.call_soon(sink.queue, b"d:1|c")
        await asyncio.sleep(0.05)

    asyncio.run(interleaved())
    assert statsd.wait_for(4) == ["a:1|c", "c:1|c", "b:1|c", "d:1|c"]
    assert statsd.datagrams == 2
    sink.close()


def test_close_sends_what_is_queued_then_releases_the_socket(statsd: StatsdCapture) -> None:
    """After close nothing is sent, nothing raises, and the socket's descriptor is closed."""
    before = open_sockets()
    sink = StatsdSink("127.0.0.1", statsd.port)
    opened = set(open_sockets().values()) - set(before.values())
    assert len(opened) == 1
    sink.buffered = True
    sink.incr("last")
    sink.close()
    assert statsd.wait_for(1) == ["last:1|c"]
    assert not sink.connected
    assert not opened & set(open_sockets().values())
    sink.incr("after")
    sink.send_bytes(b"after:1|c")
    assert statsd.collect(timeout=0.2) == ["last:1|c"]


def test_the_socket_never_blocks_the_event_loop(statsd: StatsdCapture) -> None:
    """A send that cannot go at once fails (logged once) rather than wait: it is non-blocking."""
    before = open_sockets()
    sink = StatsdSink("127.0.0.1", statsd.port)
    (fd,) = set(open_sockets()) - set(before)
    assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK
    sink.close()


def test_a_healthy_sink_logs_nothing(
    statsd: StatsdCapture, warnings: pytest.LogCaptureFixture
) -> None:
    """A host that resolves and connects at once is not worth a log line."""
    sink = StatsdSink("127.0.0.1", statsd.port)
    sink.incr("hits")
    statsd.wait_for(1)
    assert warnings.records == []
    sink.close()


def test_a_host_that_does_not_resolve_drops_every_line_and_never_raises(
    warnings: pytest.LogCaptureFixture,
) -> None:
    """One warning says why and how often it is retried; buffered lines are dropped, not kept."""
    sink = StatsdSink(UNRESOLVABLE, 8125)
    (record,) = warnings.records
    assert record.levelno == logging.WARNING
    assert re.fullmatch(
        rf"statsd host {UNRESOLVABLE}:8125 unavailable \((?!None\)).+\); "
        r"serving without statsd, retrying every 30s",
        record.getMessage(),
    ), record.getMessage()
    sink.buffered = True
    for _ in range(3):
        sink.incr("hits")
        sink.queue(b"x:1|c")
    sink.flush()
    sink.close()
    assert not sink.connected
    assert len(warnings.records) == 1


def _ipv6() -> bool:
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).close()
    except OSError:
        return False
    return True


@pytest.mark.parametrize(
    "host",
    [
        "255.255.255.255",
        pytest.param(
            "fe80::1", marks=pytest.mark.skipif(not _ipv6(), reason="no IPv6 on this host")
        ),
    ],
    ids=["broadcast", "ipv6-link-local-without-scope"],
)
def test_a_host_that_refuses_the_connection_is_retried_later(
    host: str, warnings: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection the OS refuses is logged once, and not retried until it is due."""
    monkeypatch.setattr(_statsd, "RESOLVE_RETRY_SECONDS", 30.0)
    sink = StatsdSink(host, 8125)
    (record,) = warnings.records
    assert re.fullmatch(
        rf"statsd {re.escape(host)}:8125: cannot connect \(\[Errno \d+\] [^)]+\)",
        record.getMessage(),
    ), record.getMessage()
    with threads_started() as started:
        sink.incr("hits")
    assert started == []
    assert not sink.connected
    sink.close()


def test_a_host_that_comes_up_later_is_resolved_off_the_request_path(
    statsd: StatsdCapture, warnings: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When a retry is due, a send starts the lookup in a daemon thread; later lines arrive."""
    monkeypatch.setattr(_statsd, "RESOLVE_RETRY_SECONDS", 0.3)
    sink = StatsdSink(UNRESOLVABLE, statsd.port)
    failed_at = time.monotonic()
    assert "retrying every 0.3s" in warnings.records[0].getMessage()
    sink.host = "127.0.0.1"  # its name resolves from now on
    with threads_started() as started:
        sink.incr("early")  # not due yet: dropped, no lookup
    assert started == []
    assert not sink.connected
    time.sleep(max(0.0, failed_at + 0.35 - time.monotonic()))
    with threads_started() as started:
        sink.incr("due")  # starts the lookup; this line is dropped
        wait_until(lambda: sink.connected)
    assert started == [("statsd-resolve", True)]
    assert warnings.records[-1].getMessage() == (
        f"statsd host 127.0.0.1:{statsd.port} resolved; sending metrics"
    )
    assert warnings.records[-1].levelno == logging.INFO
    sink.incr("late")
    assert statsd.wait_for(1) == ["late:1|c"]
    assert statsd.collect(timeout=0.2) == ["late:1|c"]
    sink.close()


def test_a_due_retry_starts_one_lookup_however_many_lines_follow(
    warnings: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first line after the retry is due starts the lookup; the next ones wait for it."""
    monkeypatch.setattr(_statsd, "RESOLVE_RETRY_SECONDS", 0.3)
    sink = StatsdSink(UNRESOLVABLE, 8125)
    time.sleep(0.35)
    with threads_started() as started:
        for _ in range(5):
            sink.incr("hits")
        wait_until(lambda: "statsd-resolve" not in {t.name for t in threading.enumerate()})
    assert started == [("statsd-resolve", True)]
    assert not sink.connected
    assert len(warnings.records) == 1
    sink.close()


def test_each_kind_of_send_failure_is_logged_once(warnings: pytest.LogCaptureFixture) -> None:
    """A datagram too large and a port nobody listens on: one warning each, then silence."""
    port = closed_port()
    sink = StatsdSink("127.0.0.1", port)
    for _ in range(3):
        sink.send_bytes(b"x" * 70_000)  # more than a UDP datagram can hold
    for _ in range(5):
        sink.incr("hits")  # the OS reports the closed port at the next send
    messages = [record.getMessage() for record in warnings.records]
    assert len(messages) == 2, messages
    assert re.fullmatch(
        rf"statsd send to 127\.0\.0\.1:{port} failed \(\[Errno 90\] Message too long\); "
        "metrics are being lost, further failures are not logged",
        messages[0],
    ), messages[0]
    assert re.fullmatch(
        rf"statsd send to 127\.0\.0\.1:{port} failed \(\[Errno 111\] Connection refused\); "
        "metrics are being lost, further failures are not logged",
        messages[1],
    ), messages[1]
    sink.close()
