"""The request target: a path and query string that decode to text, or a 400.

ASGI servers hand over the path percent-decoded, with undecodable bytes replaced by U+FFFD
(gunicorn) and ``%`` not followed by two hex digits left as it was, so a handler would greet
``"\\ufffd("`` for ``%C3%28``. The raw target is checked instead, which costs nothing for the
common target without ``%`` or non-ASCII bytes.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_to_bytes

import falcon

_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def target_problem(scope: dict[str, Any]) -> str | None:
    """Why the target of ``scope`` is not valid percent-encoded UTF-8, or ``None``."""
    for part, what in (
        (scope.get("raw_path") or b"", "path"),
        (scope.get("query_string") or b"", "query string"),
    ):
        if b"%" not in part and part.isascii():
            continue
        if _BAD_PERCENT.search(part):
            return f"The {what} has a '%' that is not followed by two hex digits."
        try:
            unquote_to_bytes(part).decode("utf-8")
        except UnicodeDecodeError:
            return f"The {what} is not UTF-8 once percent-decoded."
    return None


def check_target(scope: dict[str, Any]) -> None:
    """Raise a 400 for a target that is not valid percent-encoded UTF-8.

    Raises:
        falcon.HTTPBadRequest: With the reason.
    """
    problem = target_problem(scope)
    if problem is not None:
        raise falcon.HTTPBadRequest(description=problem)
