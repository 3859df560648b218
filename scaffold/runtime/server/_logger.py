"""gunicorn's logger, writing through the process's logging setup like every other logger."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger


class GunicornLogger(Logger):  # type: ignore[misc]
    """gunicorn's error log without a handler of its own: its records reach the root logger.

    Stock gunicorn writes ``[time] [pid] [LEVEL] message`` to stderr beside the service's
    own lines; here its records take the root handler that
    :func:`~scaffold.runtime.observability.configure_logging` installs, so with
    ``logging.format: json`` gunicorn's lines are JSON too, and in text they read like the
    rest (logger ``gunicorn.error``). The access log is the runtime's, never gunicorn's.
    """

    def setup(self, cfg: Any) -> None:
        """Set gunicorn's levels as it does; then drop its handlers and propagate."""
        super().setup(cfg)
        for handler in list(self.error_log.handlers):
            if getattr(handler, "_gunicorn", False):
                self.error_log.removeHandler(handler)
        self.error_log.propagate = True
