"""The distribution's extras, and the one-line error when a command's extra is missing."""

from __future__ import annotations

import importlib.util

from scaffold import DISTRIBUTION
from scaffold.exceptions import MissingExtraError

# `scaffold new` and `scaffold update` render the template: cookiecutter and what it pulls in,
# which no service needs at run time.
NEW_EXTRA = "new"
_NEW_MODULES = ("cookiecutter", "packaging")


def require_new_extra(command: str) -> None:
    """Raise unless the modules of the ``new`` extra are importable.

    Raises:
        MissingExtraError: One of them is missing; the message says what to install.
    """
    missing = [name for name in _NEW_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        msg = (
            f"scaffold {command} needs the [{NEW_EXTRA}] extra, which is not installed: "
            f"pip install '{DISTRIBUTION}[{NEW_EXTRA}]'"
        )
        raise MissingExtraError(msg)
