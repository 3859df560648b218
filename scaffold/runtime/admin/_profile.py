"""The ``profile`` task: every thread of the worker that answers, as a ``pstats`` file.

The standard library's :mod:`cProfile` sees only the thread that starts it; yappi profiles
every thread of the process (the event loop, the handler pool, the service's own threads)
and writes the same ``pstats`` format, which ``snakeviz`` and ``python -m pstats`` read.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import falcon

from scaffold.runtime.admin._tasks import Download, TaskError

MIN_SECONDS = 1
MAX_SECONDS = 60
CLOCKS = ("cpu", "wall")


def profile_seconds(raw: str | None) -> int:
    """The ``seconds`` parameter: a whole number of seconds, 1 to 60.

    Raises:
        TaskError: It is missing, not a whole number or out of range.
    """
    if raw is None:
        msg = f"?seconds=N is required ({MIN_SECONDS} to {MAX_SECONDS})"
        raise TaskError(msg)
    try:
        seconds = int(raw)
    except ValueError:
        msg = f"seconds must be a whole number of seconds, not {raw!r}"
        raise TaskError(msg) from None
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        msg = f"seconds must be {MIN_SECONDS} to {MAX_SECONDS}, not {seconds}"
        raise TaskError(msg)
    return seconds


class ProfileTask:
    """Profile the worker for ``?seconds=N``; answer with the ``pstats`` file.

    ``?clock=cpu`` (the default) counts CPU time per thread, where a hot spot shows;
    ``?clock=wall`` counts elapsed time, waits included. One profile at a time per worker
    (another answers 409).

    Args:
        service_name: Names the file: ``<service>-<pid>-<UTC time>.pstats``.
    """

    def __init__(self, service_name: str) -> None:
        self.service_name = service_name
        self._running = threading.Lock()

    def __call__(self, params: Mapping[str, str]) -> Download:
        """Run the profile (in a thread of its own: the worker keeps serving)."""
        seconds = profile_seconds(params.get("seconds"))
        clock = params.get("clock", "cpu")
        if clock not in CLOCKS:
            msg = f"clock must be one of {', '.join(CLOCKS)}, not {clock!r}"
            raise TaskError(msg)
        import yappi  # only a worker that profiles pays for it

        if not self._running.acquire(blocking=False):
            raise falcon.HTTPConflict(description="A profile of this worker is already running.")
        try:
            yappi.clear_stats()
            yappi.set_clock_type(clock)
            yappi.start(builtins=False, profile_threads=True)
            try:
                time.sleep(seconds)
            finally:
                yappi.stop()
            with tempfile.TemporaryDirectory(prefix="scaffold-profile-") as folder:
                path = Path(folder) / "profile.pstats"
                yappi.get_func_stats().save(str(path), type="pstat")
                data = path.read_bytes()
        finally:
            yappi.clear_stats()
            self._running.release()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        return Download(data, f"{self.service_name}-{os.getpid()}-{stamp}.pstats")
