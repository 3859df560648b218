"""Errors the runtime raises outside a request (requests get ``falcon.HTTPError``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class ServiceError(Exception):
    """Root of the runtime's start-up errors."""


class ConfigError(ServiceError):
    """The config is invalid.

    Attributes:
        problems: One ``dotted.key: problem`` line each.
        source: The file the config came from, if any.
    """

    def __init__(self, problems: Sequence[str], *, source: Path | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__("\n".join(self.problems))


class DefinitionError(ServiceError, TypeError):
    """A route, schema or health check was declared in a way that cannot work."""
