"""The gunicorn master: gunicorn's arbiter, draining before a graceful stop."""

from __future__ import annotations

import logging
import mmap
import os
import signal
import threading
from typing import Any

from gunicorn.arbiter import Arbiter

log = logging.getLogger("scaffold.server")


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

    def halt(self, reason: str | None = None, exit_status: int = 0) -> None:
        """Stop; a worker that could not boot (or load the app) makes the exit status 1."""
        if exit_status in (self.WORKER_BOOT_ERROR, self.APP_LOAD_ERROR):
            exit_status = 1
        super().halt(reason, exit_status)

    def handle_term(self) -> None:
        """Drain first, then stop gracefully."""
        app: Any = self.app
        seconds = app.config.server.drain_seconds
        if seconds <= 0 or app.draining.is_set():
            raise StopIteration
        app.draining.set()
        log.info("draining: /health/ready answers 503 for %gs, then graceful stop", seconds)
        timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGTERM))
        timer.daemon = True
        timer.start()
