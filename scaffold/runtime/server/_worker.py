"""The worker: gunicorn's ``asgi`` worker, serving each listener with its own app and TLS.

gunicorn's stock ``asgi`` worker serves one app on every listener with one TLS context. Ours
starts one asyncio server per listener: the app port's listeners serve ``service.asgi`` (with
``server.tls``), the admin port's serve ``service.admin`` (with ``server.admin_tls``), so the
accepting listener, never the ``Host`` header, decides which app answers. It also buffers
the access log and flushes it every second and before exiting, reopens it on ``USR1``, wakes
at once on ``TERM``, and stops the service's thread pool last.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import signal
import sys
from collections.abc import Callable
from typing import Any

from gunicorn.arbiter import Arbiter
from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers.gasgi import ASGIWorker

from scaffold.runtime.errors import PROBLEM_JSON, problem_body, status_phrase
from scaffold.runtime.managed import ManagedStartError
from scaffold.runtime.observability import new_request_id, reopen_log_files, report_error
from scaffold.runtime.server._devloop import describe_failure, failure_app
from scaffold.runtime.server._listeners import split_listeners
from scaffold.runtime.service import Service

_EARLY_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1)
TICK_SECONDS = 1.0
"""How often the worker tells the master it lives and writes buffered log lines."""
WORKER_BOOT_ERROR = Arbiter.WORKER_BOOT_ERROR
HEADER_TIMEOUT_SECONDS = 10.0
"""How long a new connection may take to send its first request's headers (then 408)."""

# gunicorn picks its C HTTP parser (gunicorn_h1c, the `speedups` extra) in a classmethod that
# caches what it finds on the class it is called on, then reads that cache from ASGIProtocol
# itself: first called on a subclass such as ours, it leaves ASGIProtocol's cache empty and
# serves with the pure-Python parser. Filling ASGIProtocol's cache here keeps the C parser.
ASGIProtocol._check_h1c_protocol_available()


class Protocol(ASGIProtocol):  # type: ignore[misc]
    """gunicorn's HTTP protocol, answering what its parser refuses in the service's envelope.

    gunicorn writes its own ``text/plain`` answer for a request line or headers it cannot
    parse (400, 414, 431, 501) and for an app that fails before responding (500); here it
    is problem+json with a request id, and the app port logs and counts it.
    """

    refused: Callable[[Any, int, int, str], None] | None = None
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        """Start the connection; its first request's headers must arrive in time."""
        super().connection_made(transport)
        self._header_timer = self.worker.loop.call_later(
            HEADER_TIMEOUT_SECONDS, self._headers_too_slow
        )

    def _on_headers_complete(self) -> Any:
        self._stop_header_timer()
        return super()._on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the header timer with the connection."""
        self._stop_header_timer()
        super().connection_lost(exc)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        # gunicorn times out idle keep-alive connections, not a first request that never
        # completes its headers: without this, a client trickling bytes holds a connection
        # (and a file descriptor) for ever.
        self._header_timer = None
        if self._closed or self._current_request is not None or self.reader is not None:
            return  # gone, or its headers arrived, or it speaks HTTP/2 (framed differently)
        self._send_error_response(408, "The request headers did not arrive in time.")
        self._close_transport()

    def _send_error_response(self, status: int, message: str, extra_headers: Any = ()) -> None:
        request_id = new_request_id()
        body = problem_body(status, message, request_id)
        head = [
            f"HTTP/1.1 {status} {status_phrase(status)}",
            f"Content-Type: {PROBLEM_JSON}",
            f"Content-Length: {len(body)}",
            f"X-Request-Id: {request_id}",
            *(f"{name}: {value}" for name, value in extra_headers),
            "Connection: close",
            "",
            "",
        ]
        self._safe_write("\r\n".join(head).encode("latin-1") + body)
        if self.refused is not None:
            peer = self.transport.get_extra_info("peername") if self.transport else None
            self.refused(peer, status, len(body), request_id)


def _protocol_factory(
    worker: ASGIWorker, app: Any, refused: Callable[[Any, int, int, str], None] | None
) -> Callable[[], ASGIProtocol]:
    def make() -> ASGIProtocol:
        protocol = Protocol(worker)
        protocol.app = app  # the listener's app, instead of the worker's only one
        protocol.refused = refused
        return protocol

    return make


def remember_master_signals(arbiter: Any, worker: Worker) -> None:
    """gunicorn's ``post_fork`` hook: keep the queue the master's signal handler fills.

    Until the worker installs its own handlers, a signal that reaches the new process runs
    the master's handler, inherited through the fork, which only queues it: a ``TERM`` sent
    while a worker boots would be lost, and the worker would serve on until the master
    kills it ``graceful_timeout`` later. :meth:`Worker.init_signals` reads the queue.
    (gunicorn's stock ``asgi`` worker has both gaps.)
    """
    worker.master_signals = arbiter.SIG_QUEUE


class Worker(ASGIWorker):  # type: ignore[misc]
    """gunicorn's ``asgi`` worker, with an app and a TLS context per listener."""

    _wake: asyncio.Event | None = None
    master_signals: queue.SimpleQueue[Any] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._early_signals: list[int] = []

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        """Nothing to warn about: ``server.threads`` sizes our pool, not gunicorn's threads."""

    def init_signals(self) -> None:
        """Record signals with plain handlers until the event loop runs.

        uvloop calls a loop's signal handlers only while the loop runs: a ``TERM`` that
        arrived while the service was being built would be lost. The loop's handlers are
        installed by :meth:`_serve`, which then acts on what came before, including what
        the master's inherited handler queued before this one was set.
        """
        for signum in self.SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        for signum in _EARLY_SIGNALS:
            signal.signal(signum, self._record_signal)
        missed = self.master_signals
        self.master_signals = None
        while missed is not None:
            try:
                signum = missed.get_nowait()
            except queue.Empty:
                break
            if signum in _EARLY_SIGNALS:
                self._early_signals.append(signum)

    def _record_signal(self, signum: int, frame: object) -> None:
        self._early_signals.append(signum)

    def _install_loop_signals(self) -> None:
        """gunicorn's handlers, on the running loop (each replaces the recording one)."""
        add = self.loop.add_signal_handler
        add(signal.SIGQUIT, self.handle_quit_signal)
        add(signal.SIGTERM, self.handle_exit_signal)
        add(signal.SIGINT, self.handle_quit_signal)
        add(signal.SIGUSR1, self.handle_usr1_signal)
        add(signal.SIGWINCH, self.handle_winch_signal)
        add(signal.SIGABRT, self.handle_abort_signal)
        early, self._early_signals = self._early_signals, []
        for signum in early:
            if signum == signal.SIGTERM:
                self.handle_exit_signal()
            elif signum == signal.SIGUSR1:
                self.handle_usr1_signal()
            else:
                self.handle_quit_signal()

    def handle_usr1_signal(self) -> None:
        """Reopen gunicorn's log files and ours (the access and request logs)."""
        super().handle_usr1_signal()
        reopen_log_files()

    def handle_exit_signal(self) -> None:
        """Stop gracefully, starting now rather than at the next tick."""
        super().handle_exit_signal()
        self._wake_up()

    def handle_quit_signal(self) -> None:
        """Stop at once."""
        super().handle_quit_signal()
        self._wake_up()

    def _wake_up(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def load_wsgi(self) -> None:
        """Build the service; with ``--reload``, a service that fails to load serves its error.

        Without ``--reload`` the failure stops the worker (and ``scaffold run``) as before.
        """
        try:
            self.asgi = self.app.wsgi()
        except Exception as ex:
            options = self.app.options
            if not options.reload:
                raise
            block = describe_failure(ex, options.root)
            self.log.error("%s", block)
            self.asgi = failure_app(block)

    def run(self) -> None:
        """Serve until told to stop, then close the service (its threads and log files)."""
        try:
            self.loop.run_until_complete(self._serve())
        except Exception as ex:
            self.log.exception("Worker exception: %s", ex)
        finally:
            service = self.asgi
            if isinstance(service, Service):
                service.close()  # writes and sends what is buffered
            self._cleanup()

    async def _serve(self) -> None:
        """Serve each listener with its app; tick until stopped; shut down gracefully."""
        self._wake = asyncio.Event()
        self._install_loop_signals()
        service = self.asgi
        plan = self.app.plan
        app_sockets, admin_sockets = split_listeners(self.sockets, plan.app_count)
        kinds: list[tuple[list[Any], Any, Any, Any]]
        if isinstance(service, Service):
            try:
                await service.managed.start()
            except ManagedStartError as ex:
                # One line for the operator; the master halts with exit code 1.
                report_error(str(ex))
                sys.exit(WORKER_BOOT_ERROR)
            service.buffer_output()
            refused = service.observer.refused
            kinds = [(app_sockets, service.asgi, plan.app_tls, refused)]
            kinds.append((admin_sockets, service.admin, plan.admin_tls, None))
        else:  # the service failed to load (--reload): its error answers on every port
            kinds = [(self.sockets, service, None, None)]
        for sockets, app, context, on_refused in kinds:
            for listener in sockets:
                server = await self.loop.create_server(
                    _protocol_factory(self, app, on_refused),
                    sock=listener.sock,
                    ssl=context,
                    reuse_address=True,
                    start_serving=True,
                )
                self.servers.append(server)
        while self.alive:
            self.notify()
            if isinstance(service, Service):
                service.tick()
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK_SECONDS)
        await self._shutdown()
        if isinstance(service, Service):
            await service.managed.stop()  # after the last in-flight request
