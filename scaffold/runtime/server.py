"""Serve a :class:`Service` with gunicorn: app and admin listeners, chosen by socket."""

from __future__ import annotations

import logging
import math
import mmap
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

from scaffold.runtime._logfile import reopen_log_files
from scaffold.runtime.config import Config
from scaffold.runtime.exceptions import ConfigError
from scaffold.runtime.logconfig import configure_logging
from scaffold.runtime.service import Service
from scaffold.runtime.tls import gunicorn_tls_settings

log = logging.getLogger("scaffold.server")

_WILDCARDS = {"0.0.0.0", "::", ""}


def _key(name: Any) -> Any:
    """Normalise a ``getsockname()`` result to ``path`` or ``(host, port)``."""
    if isinstance(name, bytes):
        return name.decode(errors="replace")
    if isinstance(name, str):
        return name
    return (name[0], name[1])


def describe(name: Any, scheme: str) -> str:
    """``http://127.0.0.1:8080``, ``https://[::1]:8443`` or ``unix:/run/x.sock``."""
    key = _key(name)
    if isinstance(key, str):
        return f"unix:{key}"
    host, port = key
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}"


class ListenerMap:
    """Which listening sockets serve the admin port; everything else is the app port."""

    def __init__(self) -> None:
        self.admin_exact: set[Any] = set()
        self.admin_any_host_ports: set[int] = set()
        self.app_names: list[Any] = []
        self.admin_names: list[Any] = []

    def assign(self, names: Iterable[Any], app_count: int) -> None:
        """Classify bound listener addresses: the first ``app_count`` are the app's.

        Gunicorn binds in the order of its ``bind`` list (app addresses, then admin ones),
        and systemd passes sockets in the order of the socket unit, which lists them the
        same way. Order, not address, decides: ports may be OS-chosen (``:0``).
        """
        names = [_key(name) for name in names]
        self.app_names = names[:app_count]
        self.admin_names = names[app_count:]
        self.admin_exact = set()
        self.admin_any_host_ports = set()
        for key in self.admin_names:
            if isinstance(key, tuple) and key[0] in _WILDCARDS:
                self.admin_any_host_ports.add(key[1])
            else:
                self.admin_exact.add(key)

    def is_admin(self, conn: socket.socket) -> bool:
        """Whether connection ``conn`` was accepted by an admin listener."""
        try:
            key = _key(conn.getsockname())
        except OSError:
            return False
        if key in self.admin_exact:
            return True
        return isinstance(key, tuple) and key[1] in self.admin_any_host_ports


class PortDispatch:
    """The WSGI entry of a worker: the accepting socket picks the app, never the Host header."""

    def __init__(self, app: Any, admin: Any, listeners: ListenerMap) -> None:
        self.app = app
        self.admin = admin
        self.listeners = listeners

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Dispatch one request."""
        conn = environ.get("gunicorn.socket")
        if conn is not None and self.listeners.is_admin(conn):
            return self.admin(environ, start_response)
        return self.app(environ, start_response)


class SharedFlag:
    """A flag the gunicorn master raises and every worker sees (one shared-memory byte).

    Made before the workers fork, so parent and children map the same page.
    """

    def __init__(self) -> None:
        self._page = mmap.mmap(-1, 1)

    def set(self) -> None:
        """Raise the flag."""
        self._page[0] = 1

    def clear(self) -> None:
        """Lower the flag."""
        self._page[0] = 0

    def is_set(self) -> bool:
        """Whether the flag is up."""
        return self._page[0] == 1


class DrainingArbiter(Arbiter):  # type: ignore[misc]
    """A gunicorn master that drains before a graceful stop.

    With ``server.drain_seconds`` > 0, the first ``SIGTERM`` only raises the shared draining
    flag: every worker keeps serving, and ``/health/ready`` answers 503 so load balancers
    stop sending traffic. ``drain_seconds`` later (or at a second ``SIGTERM``) the usual
    graceful stop begins: listeners close, workers finish in-flight requests within
    ``server.graceful_timeout``. ``SIGINT`` and ``SIGQUIT`` stop at once, as in gunicorn.
    """

    def handle_term(self) -> None:
        """Drain first, then stop gracefully."""
        app: ServiceApplication = self.app
        seconds = app.config.server.drain_seconds
        if seconds <= 0 or app.draining.is_set():
            raise StopIteration
        app.draining.set()
        log.info("draining: /health/ready answers 503 for %gs, then graceful stop", seconds)
        timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGTERM))
        timer.daemon = True
        timer.start()


@dataclass(frozen=True)
class ServeOptions:
    """What ``scaffold run`` adds to the config: a process name and code reloading."""

    name: str = "service"
    reload: bool = False


class ServiceApplication(BaseApplication):  # type: ignore[misc]
    """A gunicorn application that re-reads the config on every HUP.

    Args:
        load_config: Returns the validated config; called at start and on each reload.
        build: Builds the :class:`Service` from a config (in each worker).
        options: Process name and code reloading.
    """

    def __init__(
        self,
        load_config: Callable[[], Config],
        build: Callable[[Config], Service],
        options: ServeOptions | None = None,
    ) -> None:
        self._load_config = load_config
        self._build = build
        self.options = options or ServeOptions()
        self.config = load_config()
        self.listeners = ListenerMap()
        self.draining = SharedFlag()
        super().__init__()

    def run(self) -> None:
        """Run the gunicorn master (with draining) until it exits."""
        try:
            DrainingArbiter(self).run()
        except RuntimeError as ex:
            print(f"\nError: {ex}\n", file=sys.stderr, flush=True)
            sys.exit(1)

    # gunicorn's hooks ---------------------------------------------------------------

    def load_config(self) -> None:
        """Copy the service config into gunicorn's settings."""
        for key, value in self.gunicorn_settings().items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Any:
        """Build the service in a worker and return the socket dispatcher."""
        configure_logging(self.config.logging)
        service = self._build(self.config)
        service.lifecycle.follow(self.draining)
        return PortDispatch(service.app, service.admin, self.listeners)

    def reload(self) -> None:
        """Re-read the config; a broken file keeps the running config instead of exiting."""
        try:
            self.config = self._load_config()
        except ConfigError as ex:
            for line in ex.problems:
                log.error("reload refused, keeping the running config: %s", line)
            return
        configure_logging(self.config.logging)
        super().reload()
        log.info("config reloaded from %s", self.config.source or "defaults")

    # settings -----------------------------------------------------------------------

    def gunicorn_settings(self) -> dict[str, Any]:
        """The gunicorn settings for the current config."""
        server = self.config.server
        settings: dict[str, Any] = {
            "bind": [*server.bind, *server.admin_bind],
            "workers": server.workers,
            "threads": server.threads,
            "worker_class": "gthread",
            "graceful_timeout": math.ceil(server.graceful_timeout),
            "accesslog": None,
            "errorlog": "-",
            "loglevel": self.config.logging.level.lower(),
            "proc_name": self.options.name,
            "reload": self.options.reload,
            "when_ready": self._when_ready,
            "on_reload": self._when_ready,
            "post_worker_init": _reopen_on_usr1,
            # gunicorn >= 24 opens a control socket in $HOME by default; we need none, and
            # two services on one host must not fight over it.
            "control_socket_disable": True,
        }
        if server.tls is not None:
            settings.update(gunicorn_tls_settings(server.tls))
        return settings

    def _classify(self, arbiter: Any) -> None:
        names = [listener.getsockname() for listener in arbiter.LISTENERS]
        self.listeners.assign(names, len(self.config.server.bind))

    def _when_ready(self, arbiter: Any) -> None:
        """Classify the listeners and say where each port listens (at start and each reload)."""
        self._classify(arbiter)
        scheme = "https" if self.config.server.tls else "http"
        for name in self.listeners.app_names:
            log.info("app listening on %s", describe(name, scheme))
        for name in self.listeners.admin_names:
            log.info("admin listening on %s", describe(name, scheme))


def _reopen_on_usr1(worker: Any) -> None:
    """Make a worker's ``USR1`` also reopen the access and request logs (for logrotate).

    gunicorn's own handler reopens only its loggers' files; ours chains to it. The master
    forwards ``USR1`` to every worker.
    """
    previous = signal.getsignal(signal.SIGUSR1)

    def on_usr1(signum: int, frame: Any) -> None:
        reopen_log_files()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.siginterrupt(signal.SIGUSR1, False)
