"""Test helpers for services: clients for the app and admin ports, and a statsd capture.

Example::

    from scaffold.runtime.testing import StatsdCapture, admin_client, client

    def test_greeting(service):
        assert client(service).simulate_get("/v1/greetings/Ada").status_code == 200

    def test_metrics(config):
        with StatsdCapture() as statsd:
            service = create_service(statsd.apply(config))
            client(service).simulate_get("/v1/greetings/Ada")
            statsd.wait_for(2)
            assert statsd.names() == [
                "acme-widgets.v1.greetings.name.GET.200|c",
                "acme-widgets.v1.greetings.name.GET|ms",
            ]
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections import Counter as _Tally
from types import TracebackType

from falcon import testing

from scaffold.runtime.config import Config
from scaffold.runtime.config_schema import MetricsConfig, StatsdConfig
from scaffold.runtime.service import Service

__all__ = ["StatsdCapture", "admin_client", "client"]


def client(service: Service) -> testing.TestClient:
    """A :class:`falcon.testing.TestClient` for the service's app port."""
    return testing.TestClient(service.asgi)


def admin_client(service: Service) -> testing.TestClient:
    """A :class:`falcon.testing.TestClient` for the service's admin port."""
    return testing.TestClient(service.admin)


class StatsdCapture:
    """A real statsd server for tests: a UDP socket on 127.0.0.1 keeping every line received.

    Use it as a context manager; point the service at it with :meth:`apply` (or
    :attr:`statsd_config`), make requests, then :meth:`wait_for` the lines.

    Args:
        prefix: ``metrics.statsd.prefix`` for the service (empty = the service's name).
    """

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.lines: list[str] = []
        self.datagrams = 0
        self._sock: socket.socket | None = None

    def __enter__(self) -> StatsdCapture:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Bind the socket on 127.0.0.1 at an OS-chosen port."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        self._sock = sock

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    @property
    def port(self) -> int:
        """The UDP port listened on."""
        if self._sock is None:
            msg = "StatsdCapture is not started; use it in a with block"
            raise RuntimeError(msg)
        return int(self._sock.getsockname()[1])

    @property
    def statsd_config(self) -> StatsdConfig:
        """The ``metrics.statsd`` section pointing at this capture."""
        return StatsdConfig(host="127.0.0.1", port=self.port, prefix=self.prefix)

    def apply(self, config: Config | None = None) -> Config:
        """Return ``config`` (default: all defaults) with ``metrics.statsd`` set to this capture."""
        base = config or Config()
        return dataclasses.replace(base, metrics=MetricsConfig(statsd=self.statsd_config))

    def collect(self, timeout: float = 0.0) -> list[str]:
        """Read what has arrived (waiting up to ``timeout`` for a first datagram)."""
        if self._sock is None:
            msg = "StatsdCapture is not started; use it in a with block"
            raise RuntimeError(msg)
        self._sock.settimeout(timeout)  # 0 = non-blocking
        while True:
            try:
                data = self._sock.recv(65535)
            except (BlockingIOError, TimeoutError):
                break
            self.datagrams += 1
            self.lines.extend(line for line in data.decode("ascii").split("\n") if line)
            self._sock.settimeout(0)
        return list(self.lines)

    def wait_for(self, count: int, timeout: float = 2.0) -> list[str]:
        """Wait until at least ``count`` lines arrived; return every line so far.

        Raises:
            AssertionError: Fewer lines arrived within ``timeout`` seconds (shows them).
        """
        deadline = time.monotonic() + timeout
        while len(self.collect()) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                msg = f"expected {count} statsd lines within {timeout}s, got {self.lines}"
                raise AssertionError(msg)
            self.collect(timeout=min(remaining, 0.05))
        return list(self.lines)

    def names(self) -> list[str]:
        """Each line as ``name|type`` (values dropped), in arrival order."""
        out = []
        for line in self.collect():
            name, _, rest = line.partition(":")
            out.append(f"{name}|{rest.rpartition('|')[2]}")
        return out

    def counters(self) -> dict[str, int]:
        """Total of every counter (``|c``) received, by name."""
        totals: _Tally[str] = _Tally()
        for line in self.collect():
            name, _, rest = line.partition(":")
            value, _, kind = rest.partition("|")
            if kind.split("|")[0] == "c":
                totals[name] += int(float(value))
        return dict(totals)

    def timers(self) -> dict[str, list[float]]:
        """Every timing (``|ms``) received, by name."""
        out: dict[str, list[float]] = {}
        for line in self.collect():
            name, _, rest = line.partition(":")
            value, _, kind = rest.partition("|")
            if kind.split("|")[0] == "ms":
                out.setdefault(name, []).append(float(value))
        return out
