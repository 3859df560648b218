"""The app port's access log: one Apache *combined* line per request.

``%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"``, exactly as Apache writes it, so
every combined-format parser (GoAccess, AWStats, ``apachelogs``) reads it. The ``extended``
format appends `` %D <request id>`` (microseconds, then the ``X-Request-Id``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from scaffold.runtime.observability._logconfig import json_line, rfc3339
from scaffold.runtime.observability._logfile import LogFile

if TYPE_CHECKING:
    from scaffold.runtime.context import Request

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Apache (ap_escape_logitem) escapes '"', '\\', control and non-ASCII bytes; unquoted fields
# also escape the space so a field can never split.
_C_ESCAPES = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0B: "\\v", 0x0D: "\\r"}


def escape(value: str, *, quoted: bool = True) -> str:
    """Escape ``value`` as Apache does for a log field (``\\"``, ``\\\\``, ``\\xhh``).

    Args:
        value: A WSGI string (latin-1 code points stand for the bytes received).
        quoted: The field sits between double quotes; otherwise spaces are escaped too
            and an empty value becomes ``-``.
    """
    # Printable ASCII (0x20-0x7e) without '"' or '\\' is the common case: four C-level checks.
    if (
        value.isascii()
        and value.isprintable()
        and '"' not in value
        and "\\" not in value
        and (quoted or (value and " " not in value))
    ):
        return value
    if not quoted and not value:
        return "-"
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        raw = value.encode("utf-8")
    out = []
    for byte in raw:
        if byte in (0x22, 0x5C):
            out.append("\\" + chr(byte))
        elif 0x21 <= byte <= 0x7E or (byte == 0x20 and quoted):
            out.append(chr(byte))
        else:
            out.append(_C_ESCAPES.get(byte) or f"\\x{byte:02x}")
    return "".join(out)


_clock: tuple[int, str] = (-1, "")


def clf_time(timestamp: float) -> str:
    """Format ``timestamp`` as ``27/Nov/2026:01:31:09 +0000`` in local time (cached per second)."""
    global _clock  # a one-entry cache: a race only recomputes it
    second = int(timestamp)
    cached = _clock
    if cached[0] == second:
        return cached[1]
    tm = time.localtime(second)
    offset = tm.tm_gmtoff or 0
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset) // 60, 60)
    text = (
        f"{tm.tm_mday:02d}/{_MONTHS[tm.tm_mon - 1]}/{tm.tm_year:04d}:"
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {sign}{hours:02d}{minutes:02d}"
    )
    _clock = (second, text)
    return text


def request_line(scope: dict[str, Any]) -> str:
    """The request line as received: method, raw target (with query), protocol.

    Bytes outside ASCII stand as latin-1 code points, so :func:`escape` logs each as ``\\xhh``.
    """
    raw = scope.get("raw_path") or scope.get("path", "/").encode("utf-8", "surrogateescape")
    target = raw.decode("latin-1")
    query = scope.get("query_string")
    if query:
        target = f"{target}?{query.decode('latin-1')}"
    return f"{scope.get('method', '-')} {target} HTTP/{scope.get('http_version', '1.1')}"


_HOSTS_KEPT = 1024


def _header_field(value: bytes | None) -> str:
    """A request header as a quoted log field: ``-`` when absent."""
    return escape(value.decode("latin-1")) if value else "-"


def client_host(scope: dict[str, Any]) -> str | None:
    """The peer's address from an ASGI scope (``None`` on a Unix socket)."""
    client = scope.get("client")
    if not client:
        return None
    if not isinstance(client, tuple | list):  # ASGI allows any iterable; read it once
        client = scope["client"] = tuple(client)
    return str(client[0])


class AccessLog:
    """Write one combined (or extended) line per request to a :class:`LogFile`.

    Args:
        log_file: Where lines go.
        extended: Append `` %D <request id>`` to each line.
    """

    def __init__(self, log_file: LogFile, *, extended: bool = False) -> None:
        self.log_file = log_file
        self.extended = extended
        self._hosts: dict[str, str] = {}  # escaped %h by peer address: few peers, many requests

    def format(
        self,
        req: Request,
        *,
        status: int,
        size: int | None,
        user: str | None,
        started: float,
        elapsed: float,
        request_id: str | None,
    ) -> str:
        """Return the line (with its newline) for one request.

        Args:
            req: The request.
            status: The final status code sent.
            size: Body bytes sent, ``None`` when unknown; 0 and ``None`` log as ``-``.
            user: The verified user name, if any.
            started: Wall-clock time the request arrived (``time.time()``).
            elapsed: Seconds spent serving it.
            request_id: The ``X-Request-Id`` (``extended`` only).
        """
        scope = req.scope
        client = client_host(scope)
        if client is None:
            host = "-"
        else:
            found = self._hosts.get(client)
            if found is None:
                if len(self._hosts) >= _HOSTS_KEPT:
                    self._hosts.clear()
                found = self._hosts[client] = escape(client, quoted=False)
            host = found
        who = escape(user, quoted=False) if user else "-"
        referer = req.raw_header(b"referer")
        agent = req.raw_header(b"user-agent")
        line = (
            f'{host} - {who} [{clf_time(started)}] "{escape(request_line(scope))}" '
            f'{status} {size or "-"} "{_header_field(referer)}" "{_header_field(agent)}"'
        )
        if self.extended:
            rid = escape(request_id, quoted=False) if request_id else "-"
            line = f"{line} {int(elapsed * 1_000_000)} {rid}"
        return line + "\n"

    def format_refused(
        self, peer: Any, *, status: int, size: int, started: float, request_id: str
    ) -> str:
        """The line for a request the HTTP parser refused: no request line, no headers."""
        host = escape(str(peer[0]), quoted=False) if isinstance(peer, tuple) and peer else "-"
        line = f'{host} - - [{clf_time(started)}] "-" {status} {size or "-"} "-" "-"'
        if self.extended:
            line += f" 0 {escape(request_id, quoted=False)}"
        return line + "\n"

    def write(self, line: str) -> None:
        """Append one formatted line."""
        self.log_file.write(line)


def _text(value: bytes | None) -> str | None:
    """Bytes received as a JSON string: UTF-8, anything else as ``\\xhh``."""
    return value.decode("utf-8", "backslashreplace") if value else None


class JSONAccessLog(AccessLog):
    """Write one JSON object per request (``logging.format: json``), keys of DESIGN 4.6.

    ``time`` (RFC 3339, arrival), ``remote``, ``user``, ``method``, ``path``, ``query``,
    ``protocol``, ``status``, ``bytes``, ``referer``, ``user_agent``, ``duration_ms`` and
    ``request_id``; a value that was absent is ``null``. JSON escaping does what Apache's
    does for the text format: no value can split or forge a line.
    """

    def format(
        self,
        req: Request,
        *,
        status: int,
        size: int | None,
        user: str | None,
        started: float,
        elapsed: float,
        request_id: str | None,
    ) -> str:
        """Return the line (with its newline) for one request (see :meth:`AccessLog.format`)."""
        scope = req.scope
        raw = scope.get("raw_path") or scope.get("path", "/").encode("utf-8", "surrogateescape")
        document = {
            "time": rfc3339(started),
            "remote": client_host(scope),
            "user": user,
            "method": scope.get("method"),
            "path": _text(raw),
            "query": _text(scope.get("query_string")),
            "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
            "status": status,
            "bytes": size,
            "referer": _text(req.raw_header(b"referer")),
            "user_agent": _text(req.raw_header(b"user-agent")),
            "duration_ms": round(elapsed * 1000, 3),
            "request_id": request_id,
        }
        return json_line(document) + "\n"

    def format_refused(
        self, peer: Any, *, status: int, size: int, started: float, request_id: str
    ) -> str:
        """The line for a request the HTTP parser refused: no request line, no headers."""
        document = {
            "time": rfc3339(started),
            "remote": str(peer[0]) if isinstance(peer, tuple) and peer else None,
            "user": None,
            "method": None,
            "path": None,
            "query": None,
            "protocol": None,
            "status": status,
            "bytes": size,
            "referer": None,
            "user_agent": None,
            "duration_ms": 0.0,
            "request_id": request_id,
        }
        return json_line(document) + "\n"
