"""The request log: method, URL, headers and bodies of each exchange, with secrets redacted.

One block per request, every line prefixed by the request id, ``>`` for the request and ``<``
for the response (as ``curl -v`` does)::

    5f0c... > POST /v1/greetings HTTP/1.1
    5f0c... > Content-Type: application/json
    5f0c... > Authorization: [REDACTED]
    5f0c... > {"name": "Ada", "password": "[REDACTED]"}
    5f0c... < 201 Created (1.234 ms)
    5f0c... < Content-Type: application/json
    5f0c... < {"greeting": "Bonjour, Ada!", "language": "fr"}

JSON bodies are logged with ``redact_fields`` replaced at any depth (keys compared without
case); any other body is logged by size and type only, since a form or a binary upload can
hide a secret anywhere. Query parameters named like a redacted field are redacted too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_plus

import falcon

from scaffold.runtime._logfile import LogFile
from scaffold.runtime.config_schema import DEFAULT_REDACT_HEADERS
from scaffold.runtime.errors import status_phrase

REDACTED = "[REDACTED]"
MAX_LOGGED_BODY = 64 * 1024
"""Bodies larger than this (bytes) are logged by size only."""


class TeeStream:
    """Wrap a WSGI input stream and keep a copy of up to ``limit`` bytes read through it."""

    def __init__(self, stream: Any, limit: int = MAX_LOGGED_BODY) -> None:
        self._stream = stream
        self._limit = limit
        self.captured = bytearray()
        self.total = 0

    def _keep(self, data: bytes) -> bytes:
        self.total += len(data)
        room = self._limit + 1 - len(self.captured)
        if room > 0:
            self.captured += data[:room]
        return data

    def read(self, size: int | None = -1) -> bytes:
        """Read like the wrapped stream, keeping a copy."""
        return self._keep(self._stream.read(size if size is not None else -1))

    def readline(self, size: int | None = -1) -> bytes:
        """Read one line like the wrapped stream, keeping a copy."""
        return self._keep(self._stream.readline(size if size is not None else -1))

    def __iter__(self) -> TeeStream:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def redact_json(value: Any, fields: frozenset[str]) -> Any:
    """Return ``value`` with every object key in ``fields`` (lower-case) set to ``[REDACTED]``."""
    if isinstance(value, dict):
        return {
            key: REDACTED if str(key).lower() in fields else redact_json(item, fields)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_json(item, fields) for item in value]
    return value


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class RequestLog:
    """Write redacted request/response blocks to a :class:`LogFile`.

    Args:
        log_file: Where blocks go.
        redact_headers: Header names to redact (any case), on top of ``Authorization``,
            ``Cookie``, ``Set-Cookie`` and ``Proxy-Authorization``, which are always redacted.
        redact_fields: JSON keys and query parameters to redact (any case, any depth).
    """

    def __init__(
        self, log_file: LogFile, *, redact_headers: Iterable[str], redact_fields: Iterable[str]
    ) -> None:
        self.log_file = log_file
        self.redact_headers = frozenset(
            h.lower() for h in (*DEFAULT_REDACT_HEADERS, *redact_headers)
        )
        self.redact_fields = frozenset(f.lower() for f in redact_fields)

    def start(self, req: falcon.Request) -> None:
        """Keep a copy of the request body as the service reads it."""
        tee = TeeStream(req.env["wsgi.input"])
        req.env["wsgi.input"] = tee
        req.stream = tee
        req.context.request_log_tee = tee

    def record(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        *,
        status: int,
        body: bytes | None,
        elapsed: float,
    ) -> None:
        """Write the block for one finished request.

        Args:
            req: The request.
            resp: The response (headers as sent).
            status: Its status code.
            body: The rendered response body (``None`` for none or a stream).
            elapsed: Seconds spent serving it.
        """
        rid = getattr(req.context, "request_id", None) or "-"
        lines = [f"> {req.method} {self._target(req)} {req.env.get('SERVER_PROTOCOL', 'HTTP/1.1')}"]
        lines += [f"> {line}" for line in self._headers(req.headers.items())]
        tee: TeeStream | None = getattr(req.context, "request_log_tee", None)
        lines.append(f"> {self._request_body(req, tee)}")
        lines.append(f"< {status} {status_phrase(status)} ({elapsed * 1000:.3f} ms)")
        lines += [f"< {line}" for line in self._headers(resp.headers.items())]
        lines.append(f"< {self._response_body(req, resp, status, body)}")
        self.log_file.write("".join(f"{rid} {line}\n" for line in lines))

    def _target(self, req: falcon.Request) -> str:
        query = req.query_string
        if not query:
            return req.path
        parts = []
        for part in query.split("&"):
            name, sep, _ = part.partition("=")
            if sep and unquote_plus(name).lower() in self.redact_fields:
                part = f"{name}={REDACTED}"
            parts.append(part)
        return f"{req.path}?{'&'.join(parts)}"

    def _headers(self, items: Iterable[tuple[str, str]]) -> list[str]:
        out = []
        for name, value in sorted(items):
            shown = REDACTED if name.lower() in self.redact_headers else value
            out.append(f"{name.title()}: {_one_line(shown)}")
        return out

    def _request_body(self, req: falcon.Request, tee: TeeStream | None) -> str:
        declared = req.content_length
        if tee is None or tee.total == 0:
            if declared:
                return f"(body of {declared} bytes, not read by the service)"
            return "(no body)"
        return self._body(bytes(tee.captured), tee.total, req.content_type)

    def _response_body(
        self, req: falcon.Request, resp: falcon.Response, status: int, body: bytes | None
    ) -> str:
        if req.method == "HEAD" or status in (204, 304) or status < 200:
            return "(no body)"
        if body is None:
            return "(streamed body)" if resp.stream is not None else "(no body)"
        return self._body(body, len(body), resp.content_type)

    def _body(self, data: bytes, total: int, content_type: str | None) -> str:
        kind = content_type or "no Content-Type"
        if not _is_json(content_type) or total > MAX_LOGGED_BODY:
            return f"(body of {total} bytes, {kind})"
        try:
            doc = json.loads(data)
            return json.dumps(redact_json(doc, self.redact_fields))
        except (ValueError, RecursionError):
            return f"(body of {total} bytes, {kind}, not valid JSON)"


def _one_line(value: str) -> str:
    return value.replace("\r", "\\r").replace("\n", "\\n")
