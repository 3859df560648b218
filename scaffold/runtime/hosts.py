"""Virtual hosts: which ``Host`` header values a host pattern serves."""

from __future__ import annotations

import re
from dataclasses import dataclass

from scaffold.runtime.exceptions import DefinitionError

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_NAME = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")


def normalize_host(value: str) -> str:
    """``Host`` as compared: lowercase, no port, no trailing dot."""
    host = value.strip().lower()
    if host.startswith("["):  # an IPv6 literal: [::1]:8080
        host = host.partition("]")[0] + "]"
    else:
        host = host.rpartition(":")[0] if host.count(":") == 1 else host
    return host.rstrip(".")


@dataclass(frozen=True)
class HostPattern:
    """``api.example.com`` (that name only) or ``*.example.com`` (one label before it)."""

    pattern: str

    @classmethod
    def parse(cls, pattern: str) -> HostPattern:
        """Validate ``pattern``.

        Raises:
            DefinitionError: It is not a host name, optionally ``*.`` then one.
        """
        normal = pattern.strip().lower().rstrip(".")
        if not _NAME.match(normal):
            msg = f"host {pattern!r} is not a host name or *.domain (e.g. api.example.com)"
            raise DefinitionError(msg)
        return cls(normal)

    @property
    def wildcard(self) -> bool:
        return self.pattern.startswith("*.")

    def matches(self, host: str) -> bool:
        """Whether a normalized ``Host`` is served by this pattern."""
        if not self.wildcard:
            return host == self.pattern
        head, dot, rest = host.partition(".")
        return bool(head) and bool(dot) and rest == self.pattern[2:]
