"""JSON in and out of the runtime: orjson, with the standard library where orjson refuses.

orjson is several times faster than :mod:`json`, refuses lone surrogates (which cannot be
encoded as UTF-8) and bounds nesting, so a hostile body fails to parse instead of failing
later. Integers beyond 64 bits are the one valid JSON value it will not write: those
documents go through :mod:`json` instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import falcon
import falcon.media
import orjson

JSON = "application/json"
_OPTIONS = orjson.OPT_NON_STR_KEYS

JSONDecodeError = orjson.JSONDecodeError


def dumps(value: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """Serialise ``value`` as compact UTF-8 JSON.

    Args:
        value: The document.
        default: Called for an object of a type JSON has no form for; returns one that has.
    """
    try:
        return orjson.dumps(value, default=default, option=_OPTIONS)
    except TypeError:
        # Integers past 64 bits, or a type orjson does not know: json raises the same
        # TypeError for the latter. ASCII escapes also carry a lone surrogate, which UTF-8 cannot.
        return json.dumps(value, default=default, separators=(",", ":")).encode()


def loads(data: bytes | str) -> Any:
    """Parse a JSON document.

    Raises:
        JSONDecodeError: It is not valid JSON (a :class:`ValueError`).
    """
    return orjson.loads(data)


class DuplicateKeyError(ValueError):
    """A JSON object names the same key twice (which JSON allows and most parsers hide)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def loads_request(data: bytes) -> Any:
    """Parse a request body, refusing objects with a key given twice.

    orjson keeps the last of duplicate keys. Every key in the text is followed by a colon, so
    when the text has no more colons than the document has keys, no key can be repeated;
    only then (colons inside strings, or a repeat) is the text parsed again to find out.

    Raises:
        JSONDecodeError: It is not valid JSON.
        DuplicateKeyError: An object has the same key twice.
    """
    value = orjson.loads(data)
    if data.count(b":") > _key_count(value):
        try:
            json.loads(data, object_pairs_hook=_refuse_duplicates)
        except RecursionError as ex:  # nesting that orjson allows but json cannot walk
            msg = "nested too deeply"
            raise JSONDecodeError(msg, data.decode("utf-8", "replace"), 0) from ex
    return value


def _key_count(value: Any) -> int:
    count = 0
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            count += len(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return count


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(key)
            seen.add(key)
    return result


def install_media_handlers(app: falcon.App[Any, Any]) -> None:
    """Make ``req.get_media()`` and ``resp.media`` of ``app`` use orjson."""
    handler = falcon.media.JSONHandler(dumps=dumps, loads=loads)
    app.req_options.media_handlers[falcon.MEDIA_JSON] = handler
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = handler
