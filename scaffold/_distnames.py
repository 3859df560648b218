"""Distribution names as package indexes compare them (PEP 503), and where to read them.

The CLI side reads them itself: ``packaging`` is only in the ``new`` extra, and a service
vendors its dependencies without it.
"""

from __future__ import annotations

import re

_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(?:-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")


def canonical_name(name: str) -> str:
    """Return the PEP 503 normalised form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_name(filename: str) -> str | None:
    """Return the canonical distribution name of a wheel file name, or None if it is not one."""
    match = _WHEEL.match(filename)
    return canonical_name(match["name"]) if match else None


def requirement_key(requirement: str) -> str:
    """Return the canonical name a requirement line asks for, or ``""`` if it names none."""
    match = _REQUIREMENT_NAME.match(requirement)
    return canonical_name(match[1]) if match else ""
