"""Service name rules (DESIGN 4.1): what ``scaffold new NAME`` accepts."""

from __future__ import annotations

import keyword
import re
import sys

from scaffold.exceptions import InvalidServiceNameError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
MAX_LENGTH = 40
RESERVED = frozenset({"scaffold", "test", "tests"})


def package_name(name: str) -> str:
    """The Python package of service ``name``: ``acme-widgets`` -> ``acme_widgets``."""
    return name.replace("-", "_")


def validate_service_name(name: str) -> str:
    """Return ``name`` if it is a valid service name.

    Raises:
        InvalidServiceNameError: With a one-line reason and an example of a valid name.
    """
    if not name:
        msg = "the service name is empty; use lowercase words joined by '-', e.g. acme-widgets"
        raise InvalidServiceNameError(msg)
    if len(name) > MAX_LENGTH:
        msg = f"service name {name!r} is {len(name)} characters long; the limit is {MAX_LENGTH}"
        raise InvalidServiceNameError(msg)
    if not NAME_PATTERN.match(name):
        msg = (
            f"invalid service name {name!r}: use lowercase letters and digits, starting with "
            "a letter, words joined by single '-' (e.g. acme-widgets)"
        )
        raise InvalidServiceNameError(msg)
    package = package_name(name)
    if keyword.iskeyword(package) or keyword.issoftkeyword(package):
        msg = f"invalid service name {name!r}: {package!r} is a Python keyword"
        raise InvalidServiceNameError(msg)
    if package in sys.stdlib_module_names:
        msg = f"invalid service name {name!r}: {package!r} would shadow the standard library module"
        raise InvalidServiceNameError(msg)
    if name in RESERVED or package in RESERVED:
        msg = f"invalid service name {name!r}: it is reserved ({', '.join(sorted(RESERVED))})"
        raise InvalidServiceNameError(msg)
    return name
