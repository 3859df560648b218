"""How a command ends on an error: one or two lines on stderr and an exit code.

Shared by the click group and by ``python -m scaffold.run`` (the master ``scaffold run``
becomes), so both report alike: a :class:`ScaffoldError` as its message, anything else as
one ``Error: unexpected ...`` line; tracebacks only with ``--debug``.
"""

from __future__ import annotations

import sys

from scaffold.exceptions import ScaffoldError


def report(ex: Exception) -> int:
    """Print ``ex`` for a user and return the exit code to end with."""
    if isinstance(ex, ScaffoldError):
        for line in str(ex).splitlines() or [type(ex).__name__]:
            print(f"{ex.prefix}{line}", file=sys.stderr)
        return ex.exit_code
    # A bug, not a user error: still no traceback unless asked for one.
    print(f"Error: unexpected {type(ex).__name__}: {ex}", file=sys.stderr)
    print("Run it again as `scaffold --debug ...` for the traceback.", file=sys.stderr)
    return 1
