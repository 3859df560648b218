"""Process logging: one stderr handler, level from ``logging.level``, request ids in lines."""

from __future__ import annotations

import logging
import sys

from scaffold.runtime.config_schema import LoggingConfig
from scaffold.runtime.observability._requestid import current_request_id

FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s%(request_id_suffix)s"


class RequestIdFilter(logging.Filter):
    """Add ``request_id_suffix`` (`` request_id=...`` inside a request, else empty)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate ``record``; never drops it."""
        request_id = current_request_id.get()
        record.request_id_suffix = f" request_id={request_id}" if request_id else ""
        return True


def configure_logging(config: LoggingConfig) -> None:
    """Send the ``scaffold`` loggers and the root logger to stderr at ``config.level``."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_scaffold", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._scaffold = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(config.level)
