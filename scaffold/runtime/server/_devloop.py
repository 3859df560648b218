"""``scaffold run --reload``: the development loop.

The master watches the service's source files and its config file; a save sends the master
a ``HUP``, which re-reads the config and replaces the worker, which imports the code afresh.
A save that breaks the code (a syntax error, a failed import, a factory that raises) does
not stop the server: the error is logged as one block, the worker answers every request
with a 500 problem naming it, and the next good save serves again.

Watching from the master, not from each worker as gunicorn's own reloader does, means the
files' first modification times are taken once, before any worker starts: an edit made while
a worker boots is never mistaken for the baseline.
"""

from __future__ import annotations

import glob
import os
import signal
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from scaffold.runtime.errors import PROBLEM_JSON, problem_body
from scaffold.runtime.observability import new_request_id

POLL_SECONDS = 0.5


def _mtimes(patterns: Sequence[str]) -> dict[str, float]:
    found: dict[str, float] = {}
    for pattern in patterns:
        for name in glob.glob(pattern, recursive=True):
            try:
                found[name] = os.stat(name).st_mtime
            except OSError:
                continue
    return found


class SourceWatcher(threading.Thread):
    """Poll files matching ``patterns``; call ``changed(path)`` when one is saved, added or removed.

    Args:
        patterns: Paths or ``glob`` patterns (``**`` for any depth).
        changed: Called in this thread with the first path that changed (by default: a
            ``HUP`` to this process, gunicorn's reload).
        interval: Seconds between polls.
    """

    def __init__(
        self,
        patterns: Sequence[str],
        changed: Callable[[str], None] | None = None,
        interval: float = POLL_SECONDS,
    ) -> None:
        super().__init__(name="source-watcher", daemon=True)
        self.patterns = tuple(patterns)
        self.changed = changed or _hup_self
        self.interval = interval
        self.last_change: str | None = None
        self._baseline = _mtimes(self.patterns)  # now, before any worker exists
        self._stopped = threading.Event()

    def run(self) -> None:
        """Poll until :meth:`stop`."""
        while not self._stopped.wait(self.interval):
            now = _mtimes(self.patterns)
            if now == self._baseline:
                continue
            differ = sorted(
                name
                for name in now.keys() | self._baseline.keys()
                if now.get(name) != self._baseline.get(name)
            )
            self._baseline = now
            self.last_change = differ[0]
            self.changed(differ[0])

    def stop(self) -> None:
        """Stop polling."""
        self._stopped.set()


def _hup_self(path: str) -> None:
    os.kill(os.getpid(), signal.SIGHUP)


def describe_failure(error: BaseException, root: Path | None = None) -> str:
    """The block that tells a developer why the service did not load.

    The exception behind the loader's own (its ``__cause__``), with the traceback frames of
    the service's code only (those under ``root``), ending in the exception's own lines, so
    a syntax error shows its file, line and caret.
    """
    cause = error.__cause__ or error
    shown = traceback.TracebackException.from_exception(cause)
    if root is not None:
        prefix = str(root)
        frames = [frame for frame in shown.stack if frame.filename.startswith(prefix)]
        shown.stack = traceback.StackSummary.from_list(frames)
    lines = "".join(shown.format()).rstrip("\n")
    return (
        f"the service failed to load; fix it and save, the server keeps running:\n{error}\n{lines}"
    )


def failure_app(block: str) -> Callable[..., Any]:
    """An ASGI app answering every request with a 500 problem that names the failure."""
    detail = "The service failed to load: " + block.splitlines()[1]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request_id = new_request_id()
        body = problem_body(500, detail, request_id)
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
        ]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app
