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

With ``logging.format: json`` each exchange is one JSON object instead
(:class:`JSONRequestLog`): ``time``, ``request_id``, ``method``, ``target``, ``protocol``,
``request`` (``headers``, ``body``), ``status``, ``response`` (``headers``, ``body``) and
``duration_ms``; a JSON body is the (redacted) document itself, any other a description.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import falcon.asgi

from scaffold.runtime.bodytap import BodyTap
from scaffold.runtime.config_schema import DEFAULT_REDACT_HEADERS
from scaffold.runtime.errors import status_phrase
from scaffold.runtime.observability._logconfig import json_line, rfc3339
from scaffold.runtime.observability._logfile import LogFile

if TYPE_CHECKING:
    from scaffold.runtime.context import Request

REDACTED = "[REDACTED]"
MAX_LOGGED_BODY = 64 * 1024
"""Bodies larger than this (bytes) are logged by size only."""


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

    def start(self, req: Request) -> None:
        """Keep a copy of the request body as the service reads it."""
        tap = req.context.body_tap
        if tap is None:
            tap = req.context.body_tap = BodyTap()
        tap.keep = MAX_LOGGED_BODY

    def record(
        self,
        req: Request,
        resp: falcon.asgi.Response,
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
        rid = req.context.request_id or "-"
        protocol = f"HTTP/{req.scope.get('http_version', '1.1')}"
        lines = [f"> {req.method} {self._target(req)} {protocol}"]
        lines += [f"> {line}" for line in self._headers(req.headers.items())]
        lines.append(f"> {self._request_body(req, req.context.body_tap)}")
        lines.append(f"< {status} {status_phrase(status)} ({elapsed * 1000:.3f} ms)")
        lines += [f"< {line}" for line in self._headers(resp.headers.items())]
        lines.append(f"< {self._response_body(req, resp, status, body)}")
        self.log_file.write("".join(f"{rid} {line}\n" for line in lines))

    def _target(self, req: Request) -> str:
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

    def _header_pairs(self, items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Headers sorted by name, title-cased, with the redacted ones replaced."""
        return [
            (name.title(), REDACTED if name.lower() in self.redact_headers else value)
            for name, value in sorted(items)
        ]

    def _headers(self, items: Iterable[tuple[str, str]]) -> list[str]:
        return [f"{name}: {_one_line(value)}" for name, value in self._header_pairs(items)]

    def _request_body(self, req: Request, tap: BodyTap | None) -> Any:
        """The redacted JSON document of the request body, or a description of it."""
        declared = req.content_length
        if tap is None or tap.total == 0:
            if declared:
                return f"(body of {declared} bytes, not read by the service)"
            return "(no body)"
        return self._body(bytes(tap.copy), tap.total, req.content_type)

    def _response_body(
        self, req: Request, resp: falcon.asgi.Response, status: int, body: bytes | None
    ) -> Any:
        """The redacted JSON document of the response body, or a description of it."""
        if req.method == "HEAD" or status in (204, 304) or status < 200:
            return "(no body)"
        if body is None:
            return "(streamed body)" if resp.stream is not None else "(no body)"
        return self._body(body, len(body), resp.content_type)

    def _body(self, data: bytes, total: int, content_type: str | None) -> Any:
        kind = content_type or "no Content-Type"
        if not _is_json(content_type) or total > MAX_LOGGED_BODY:
            return f"(body of {total} bytes, {kind})"
        try:
            return _Document(redact_json(json.loads(data), self.redact_fields))
        except (ValueError, RecursionError):
            return f"(body of {total} bytes, {kind}, not valid JSON)"


class _Document:
    """A redacted JSON body (as opposed to a description of a body that is not logged)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __str__(self) -> str:
        return json.dumps(self.value)


class JSONRequestLog(RequestLog):
    """Write one JSON object per exchange (``logging.format: json``)."""

    def record(
        self,
        req: Request,
        resp: falcon.asgi.Response,
        *,
        status: int,
        body: bytes | None,
        elapsed: float,
    ) -> None:
        """Write the object for one finished request (see :meth:`RequestLog.record`)."""
        request_body = self._request_body(req, req.context.body_tap)
        response_body = self._response_body(req, resp, status, body)
        document = {
            "time": rfc3339(req.context.started or time.time()),
            "request_id": req.context.request_id,
            "method": req.method,
            "target": self._target(req),
            "protocol": f"HTTP/{req.scope.get('http_version', '1.1')}",
            "request": {
                "headers": dict(self._header_pairs(req.headers.items())),
                "body": _json_value(request_body),
            },
            "status": status,
            "response": {
                "headers": dict(self._header_pairs(resp.headers.items())),
                "body": _json_value(response_body),
            },
            "duration_ms": round(elapsed * 1000, 3),
        }
        self.log_file.write(json_line(document) + "\n")


def _json_value(body: Any) -> Any:
    return body.value if isinstance(body, _Document) else body


def _one_line(value: str) -> str:
    return value.replace("\r", "\\r").replace("\n", "\\n")
