"""The app port's middleware after the observer, in DESIGN 3's fixed order.

Concurrency and size limits first (shed early, before any costly work), then CORS (a
preflight carries no credentials, so it is answered before auth), then Basic auth.
"""

from __future__ import annotations

from typing import Any

from scaffold.runtime.config import Config
from scaffold.runtime.middleware._auth import BasicAuthMiddleware, parse_basic
from scaffold.runtime.middleware._cors import CORSMiddleware
from scaffold.runtime.middleware._limits import RETRY_AFTER_SECONDS, LimitsMiddleware
from scaffold.runtime.middleware._target import check_target, target_problem
from scaffold.runtime.threadpool import ThreadPool


def app_middleware(config: Config, pool: ThreadPool) -> list[Any]:
    """The middleware ``config`` turns on, in order; ``pool`` runs scrypt for Basic auth."""
    server = config.server
    middleware: list[Any] = [LimitsMiddleware(server.max_body_bytes, server.max_in_flight)]
    if config.cors.allow_origins:
        middleware.append(CORSMiddleware(config.cors))
    if config.auth.basic is not None:
        middleware.append(BasicAuthMiddleware(config.auth.basic, pool))
    return middleware


__all__ = [
    "RETRY_AFTER_SECONDS",
    "BasicAuthMiddleware",
    "CORSMiddleware",
    "LimitsMiddleware",
    "app_middleware",
    "check_target",
    "parse_basic",
    "target_problem",
]
