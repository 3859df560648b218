"""Process logging: one stderr handler, text or JSON lines, request ids in lines.

``logging.format: text`` writes ``time LEVEL [pid] logger: message request_id=...``;
``json`` writes one object per line with the keys of DESIGN 4.6 (``time``, ``level``,
``logger``, ``message``, ``request_id`` inside a request, ``exc`` for exceptions). gunicorn's
own lines take the same way (:class:`~scaffold.runtime.server.Worker` sets its logger up to
propagate here), so a process writes one format only.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import orjson

from scaffold.runtime.config_schema import LoggingConfig
from scaffold.runtime.observability._requestid import current_request_id

FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s%(request_id_suffix)s"

_utc_clock: tuple[int, str] = (-1, "")
_format = "text"  # the configured format, for report_error


def rfc3339(timestamp: float) -> str:
    """Format ``timestamp`` as RFC 3339 in UTC with milliseconds: ``2026-12-02T13:05:01.123Z``."""
    global _utc_clock  # a one-entry cache of the second: a race only recomputes it
    second = int(timestamp)
    cached = _utc_clock
    if cached[0] != second:
        cached = _utc_clock = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    millis = int((timestamp - second) * 1000)
    return f"{cached[1]}.{millis:03d}Z"


def json_line(document: dict[str, Any]) -> str:
    """``document`` as one line of JSON (no newline), whatever strings it holds.

    orjson refuses lone surrogates (which undecodable input leaves in strings); those lines
    go through :mod:`json`, which escapes them, so a log line is never lost to its content.
    """
    try:
        return orjson.dumps(document, default=str).decode()
    except TypeError:
        return json.dumps(document, default=str, ensure_ascii=True)


class RequestIdFilter(logging.Filter):
    """Add ``request_id_suffix`` (`` request_id=...`` inside a request, else empty)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate ``record``; never drops it."""
        request_id = current_request_id.get()
        record.request_id_suffix = f" request_id={request_id}" if request_id else ""
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object per record: ``time``, ``level``, ``logger``, ``message``, ... ."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        document: dict[str, Any] = {
            "time": rfc3339(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id.get()
        if request_id:
            document["request_id"] = request_id
        if record.exc_info:
            document["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            document["exc"] = record.exc_text
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        return json_line(document)


def configure_logging(config: LoggingConfig) -> None:
    """Send the root logger (and so every logger) to stderr at ``config.level``.

    Args:
        config: The ``logging`` section: ``level`` and ``format`` (``text`` or ``json``).
    """
    global _format
    _format = config.format
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_scaffold", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._scaffold = True  # type: ignore[attr-defined]
    if config.format == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(config.level)


def report_error(message: str) -> None:
    """Say why the process cannot go on, in one line an operator reads on stderr.

    ``Error: <message>`` in text; in JSON, a record of the ``scaffold.server`` logger.
    """
    if _format == "json":
        logging.getLogger("scaffold.server").error("%s", message)
        return
    print(f"Error: {message}", file=sys.stderr, flush=True)
