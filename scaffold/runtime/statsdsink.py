"""Export metrics to statsd over UDP, never failing a request or start-up.

Built on the ``statsd`` package's client base and pipeline (one datagram per request), with
three differences from its ``StatsClient``: a host that fails to resolve at start is resolved
again every :data:`RESOLVE_RETRY_SECONDS`, in a background thread (DNS may come up after the
service does, and a slow lookup must not hold a request), the
socket never blocks, and the first failure of each kind is logged once instead of silently.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import weakref

from statsd.client.base import StatsClientBase
from statsd.client.udp import Pipeline

log = logging.getLogger("scaffold.metrics")

RESOLVE_RETRY_SECONDS = 30.0
MAX_UDP_SIZE = 512


class StatsdSink(StatsClientBase):  # type: ignore[misc]
    """A statsd client that implements :class:`~scaffold.runtime.metrics.MetricSink`.

    Args:
        host: statsd host name or address.
        port: statsd UDP port.
        prefix: Prepended to every metric name (``prefix.name``); empty for none.
    """

    def __init__(self, host: str, port: int, prefix: str = "") -> None:
        self.host = host
        self.port = port
        self._prefix = prefix or None
        self._maxudpsize = MAX_UDP_SIZE
        self._lock = threading.Lock()
        self._addr: tuple[object, ...] | None = None
        self._sock: socket.socket | None = None
        self._retry_at = 0.0
        self._warned: set[str] = set()
        self._finalizer: weakref.finalize[..., StatsdSink] | None = None
        self._resolve()

    @property
    def connected(self) -> bool:
        """Whether the host resolved (packets may still be lost: it is UDP)."""
        return self._addr is not None

    def _warn_once(self, kind: str, message: str, *args: object) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning(message, *args)

    def _resolve(self) -> None:
        with self._lock:
            if self._addr is not None:
                return
            try:
                infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
                family, _, _, _, addr = infos[0]
                sock = socket.socket(family, socket.SOCK_DGRAM)
            except OSError as ex:
                self._retry_at = time.monotonic() + RESOLVE_RETRY_SECONDS
                self._warn_once(
                    "resolve",
                    "statsd host %s:%s unavailable (%s); serving without statsd, "
                    "retrying every %gs",
                    self.host,
                    self.port,
                    ex,
                    RESOLVE_RETRY_SECONDS,
                )
                return
            sock.setblocking(False)
            self._sock = sock
            self._addr = addr
            self._finalizer = weakref.finalize(self, sock.close)
            if "resolve" in self._warned:
                log.info("statsd host %s:%s resolved; sending metrics", self.host, self.port)

    def _send(self, data: str) -> None:
        """Send one datagram (the statsd client base's hook)."""
        self.send_bytes(data.encode("ascii", "replace"))

    def send_bytes(self, data: bytes) -> None:
        """Send one datagram of ready-made lines; a failure is logged once, then ignored."""
        addr = self._addr
        if addr is None:
            now = time.monotonic()
            if now >= self._retry_at:
                # Resolve off the request path: a slow DNS must not delay this request.
                self._retry_at = now + RESOLVE_RETRY_SECONDS
                threading.Thread(target=self._resolve, name="statsd-resolve", daemon=True).start()
            return
        sock = self._sock
        if sock is None:
            return
        try:
            sock.sendto(data, addr)
        except OSError as ex:
            self._warn_once(
                type(ex).__name__,
                "statsd send to %s:%s failed (%s); metrics are being lost, "
                "further failures are not logged",
                self.host,
                self.port,
                ex,
            )

    def full_name(self, name: str) -> str:
        """``name`` with the prefix, as it reaches statsd."""
        return f"{self._prefix}.{name}" if self._prefix else name

    def pipeline(self) -> Pipeline:
        """A pipeline: stats queued, then sent in as few datagrams as fit."""
        return Pipeline(self)

    def close(self) -> None:
        """Close the socket."""
        if self._finalizer is not None:
            self._finalizer()
        self._sock = None
        self._addr = None
        self._retry_at = float("inf")

    # MetricSink ---------------------------------------------------------------------

    def incr(self, name: str, count: int = 1, rate: float = 1) -> None:
        """Add ``count`` to counter ``name`` (``|c``)."""
        self._send_stat(name, f"{count}|c", rate)

    def timing(self, name: str, ms: float, rate: float = 1) -> None:
        """Record ``ms`` milliseconds for timer ``name`` (``|ms``)."""
        self._send_stat(name, f"{ms:0.6f}|ms", rate)

    def gauge(self, name: str, value: float, rate: float = 1, delta: bool = False) -> None:
        """Set gauge ``name`` (``|g``)."""
        super().gauge(name, value, rate, delta)
