"""The gunicorn application: settings from the service's config, re-read on every HUP."""

from __future__ import annotations

import logging
import math
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from scaffold.runtime.config import Config
from scaffold.runtime.exceptions import ConfigError
from scaffold.runtime.observability import MultiprocessFolder, configure_logging, report_error
from scaffold.runtime.server._arbiter import DrainingArbiter, SharedFlag
from scaffold.runtime.server._devloop import SourceWatcher
from scaffold.runtime.server._listeners import check_addresses, describe, split_listeners
from scaffold.runtime.server._logger import GunicornLogger
from scaffold.runtime.server._worker import Worker, remember_master_signals
from scaffold.runtime.service import Service
from scaffold.runtime.tls import listener_contexts

log = logging.getLogger("scaffold.server")


@dataclass(frozen=True)
class ServeOptions:
    """What ``scaffold run`` adds to the config: a process name and the development loop.

    Attributes:
        name: The process name.
        reload: Reload on every save of ``watch`` or the config file, and keep serving
            (errors) when the code is broken (:mod:`._devloop`).
        watch: The service's source files, as ``glob`` patterns.
        root: The service's folder: a load failure shows only its frames.
    """

    name: str = "service"
    reload: bool = False
    watch: tuple[str, ...] = ()
    root: Path | None = None


@dataclass(frozen=True)
class ListenerPlan:
    """How a worker serves its listeners: how many are the app's, and TLS for each kind.

    The contexts are made in the master, before any worker forks, so a missing or
    mismatched certificate stops ``scaffold run`` (or refuses a reload) instead of
    failing every worker's boot.
    """

    app_count: int
    app_tls: ssl.SSLContext | None
    admin_tls: ssl.SSLContext | None

    @classmethod
    def for_config(cls, config: Config) -> ListenerPlan:
        """The plan for ``config``.

        Raises:
            ConfigError: A certificate, key or client CA cannot be loaded.
        """
        tls = listener_contexts(config.server)
        for warning in tls.warnings:
            log.warning("%s", warning)
        return cls(len(config.server.bind), tls.app, tls.admin)


class ServiceApplication(BaseApplication):  # type: ignore[misc]
    """A gunicorn application that re-reads the config on every HUP.

    Args:
        load_config: Returns the validated config; called at start and on each reload.
        build: Builds the :class:`Service` from a config (in each worker).
        options: Process name and code reloading.

    Raises:
        ConfigError: The config's TLS files cannot be loaded, or an address cannot be
            listened on (taken, not permitted, no such folder).
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
        self.plan = ListenerPlan.for_config(self.config)
        check_addresses(self.config.server)
        self.draining = SharedFlag()
        # Before any service is built here: the workers write their Prometheus metrics there.
        self.metrics_folder = MultiprocessFolder()
        self.watcher: SourceWatcher | None = None
        super().__init__()

    def run(self) -> None:
        """Run the gunicorn master (with draining) until it exits."""
        if self.options.reload:
            self.watcher = SourceWatcher(self._watched())
            self.watcher.start()
        try:
            DrainingArbiter(self).run()
        except RuntimeError as ex:
            report_error(str(ex))
            sys.exit(1)

    def _watched(self) -> list[str]:
        source = self.config.source
        return [*self.options.watch, *([str(source)] if source is not None else [])]

    # gunicorn's hooks ---------------------------------------------------------------

    def load_config(self) -> None:
        """Copy the service config into gunicorn's settings."""
        for key, value in self.gunicorn_settings().items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Service:
        """Build the service in a worker (gunicorn's ``wsgi()``; here an ASGI app)."""
        configure_logging(self.config.logging)
        service = self._build(self.config)
        service.lifecycle.follow(self.draining)
        return service

    def reload(self) -> None:
        """Re-read the config; a broken file keeps the running config instead of exiting."""
        if self.watcher is not None and self.watcher.last_change is not None:
            log.info("%s changed: reloading", self.watcher.last_change)
            self.watcher.last_change = None
        try:
            config = self._load_config()
            plan = ListenerPlan.for_config(config)
        except ConfigError as ex:
            for line in ex.problems:
                log.error("reload refused, keeping the running config: %s", line)
            return
        self.config, self.plan = config, plan
        configure_logging(self.config.logging)
        super().reload()
        log.info("config reloaded from %s", self.config.source or "defaults")

    # settings -----------------------------------------------------------------------

    def gunicorn_settings(self) -> dict[str, Any]:
        """The gunicorn settings for the current config.

        ``server.threads`` is not gunicorn's ``threads``: it sizes each worker's pool for
        plain handlers (:class:`~scaffold.runtime.threadpool.ThreadPool`). TLS is set up by
        the worker per listener, so gunicorn is given no certificate.
        """
        server = self.config.server
        return {
            "bind": [*server.bind, *server.admin_bind],
            "workers": server.workers,
            "worker_class": Worker,
            "graceful_timeout": math.ceil(server.graceful_timeout),
            "accesslog": None,
            "errorlog": "-",
            "logger_class": GunicornLogger,
            "loglevel": self.config.logging.level.lower(),
            "proc_name": self.options.name,
            # --reload watches files from the master (SourceWatcher), not gunicorn's reloader.
            "reload": False,
            "when_ready": self._when_ready,
            "on_reload": self._when_ready,
            "post_fork": remember_master_signals,
            "child_exit": self._child_exit,
            # gunicorn >= 24 opens a control socket in $HOME by default; we need none, and
            # two services on one host must not fight over it.
            "control_socket_disable": True,
        }

    def _child_exit(self, arbiter: Any, worker: Any) -> None:
        """A worker exited: its live gauges leave the Prometheus sums (its counts stay)."""
        self.metrics_folder.worker_exited(worker.pid)

    def _when_ready(self, arbiter: Any) -> None:
        """Say where each port listens (at start and after each reload)."""
        app, admin = split_listeners(arbiter.LISTENERS, self.plan.app_count)
        app_scheme = "https" if self.plan.app_tls else "http"
        admin_scheme = "https" if self.plan.admin_tls else "http"
        for listener in app:
            log.info("app listening on %s", describe(listener.getsockname(), app_scheme))
        for listener in admin:
            log.info("admin listening on %s", describe(listener.getsockname(), admin_scheme))
