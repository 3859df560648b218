"""A real statsd server for tests: a UDP socket on 127.0.0.1 that keeps every line received."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections import Counter as _Tally
from types import TracebackType

from scaffold.runtime.config import Config
from scaffold.runtime.config_schema import MetricsConfig, StatsdConfig

WAIT_SECONDS = 2.0
"""How long :meth:`StatsdCapture.counter` and :meth:`StatsdCapture.timings` wait for a name."""


class StatsdCapture:
    """A real statsd server for tests: a UDP socket on 127.0.0.1 keeping every line received.

    The ``statsd`` fixture is one, started, with the service's config pointing at it. By hand,
    use it as a context manager; point a config at it with :meth:`apply` (or
    :attr:`statsd_config`), make requests, then read what arrived.

    :meth:`counter` and :meth:`timings` read one metric by its name without the prefix
    (``statsd.counter("v1.greetings.name.GET.200")``), so a test that checks one metric keeps
    passing when the service sends more. :meth:`counters`, :meth:`timers` and :meth:`names`
    show everything, with full names.

    Args:
        prefix: ``metrics.statsd.prefix`` for the service, and what :meth:`counter` and
            :meth:`timings` put before the names they are given (empty: nothing; a service
            then prefixes its own name).
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
        return int(self._socket().getsockname()[1])

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
        sock = self._socket()
        sock.settimeout(timeout)  # 0 = non-blocking
        while True:
            try:
                data = sock.recv(65535)
            except (BlockingIOError, TimeoutError):
                break
            self.datagrams += 1
            self.lines.extend(line for line in data.decode("ascii").split("\n") if line)
            sock.settimeout(0)
        return list(self.lines)

    def wait_for(self, count: int, timeout: float = WAIT_SECONDS) -> list[str]:
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

    def counter(self, name: str, timeout: float = WAIT_SECONDS) -> int:
        """The total of one counter, named without the prefix; 0 if it never arrives.

        Waits up to ``timeout`` seconds for the counter's first line (a server sends its
        metrics at least once a second), then sums every line of it received so far.
        """
        full = self._full(name)
        self._wait_for_name(full, "c", timeout)
        return self.counters().get(full, 0)

    def timings(self, name: str, timeout: float = WAIT_SECONDS) -> list[float]:
        """Every timing (ms) of one timer, named without the prefix; empty if none arrives.

        Waits up to ``timeout`` seconds for the timer's first line, as :meth:`counter` does.
        """
        full = self._full(name)
        self._wait_for_name(full, "ms", timeout)
        return self.timers().get(full, [])

    def names(self) -> list[str]:
        """Each line as ``name|type`` (values dropped), in arrival order."""
        return [f"{name}|{kind}" for name, _, kind in self._parsed()]

    def counters(self) -> dict[str, int]:
        """Total of every counter (``|c``) received, by full name."""
        totals: _Tally[str] = _Tally()
        for name, value, kind in self._parsed():
            if kind == "c":
                totals[name] += int(float(value))
        return dict(totals)

    def timers(self) -> dict[str, list[float]]:
        """Every timing (``|ms``) received, by full name."""
        out: dict[str, list[float]] = {}
        for name, value, kind in self._parsed():
            if kind == "ms":
                out.setdefault(name, []).append(float(value))
        return out

    def _full(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def _parsed(self) -> list[tuple[str, str, str]]:
        """``(name, value, type)`` of every line so far (sample rates and tags dropped)."""
        out = []
        for line in self.collect():
            name, _, rest = line.partition(":")
            value, _, kind = rest.partition("|")
            out.append((name, value, kind.split("|")[0]))
        return out

    def _wait_for_name(self, name: str, kind: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (name, kind) not in {(seen, its) for seen, _, its in self._parsed()}:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.collect(timeout=min(remaining, 0.05))

    def _socket(self) -> socket.socket:
        if self._sock is None:
            msg = "StatsdCapture is not started; use it in a with block"
            raise RuntimeError(msg)
        return self._sock
