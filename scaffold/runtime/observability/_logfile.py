"""Line-oriented log files (access log, request log) that ``USR1`` reopens for logrotate.

Outside a server a write goes straight to the file. A worker turns on buffering when it
boots (:attr:`LogFile.buffered`, through :meth:`Service.buffer_output`): lines then collect
in memory and reach the file when :data:`BUFFER_BYTES` have gathered, at every
:meth:`LogFile.flush` (the worker flushes once a second) and before the worker exits, so no
line is lost and a request pays for one list append instead of a write and a flush.
"""

from __future__ import annotations

import sys
import threading
import weakref
from pathlib import Path
from typing import TextIO

from scaffold.runtime.exceptions import ConfigError

STDOUT = "-"
BUFFER_BYTES = 64 * 1024
"""Buffered lines are written once this many characters have gathered (or at a flush)."""

_open_files: weakref.WeakSet[LogFile] = weakref.WeakSet()


class LogFile:
    """Append whole lines to a file, or to stdout for ``"-"``, from many threads.

    Reopening is requested (cheaply, from a signal handler) with :meth:`request_reopen`
    and done by the next write, under the same lock as the writes, so a rotation never
    splits or loses a line.

    Args:
        target: ``"-"`` for stdout, else a file path (created, appended to).
        key: The config key, named in errors.

    Raises:
        ConfigError: The file cannot be opened.
    """

    def __init__(self, target: str, *, key: str) -> None:
        self.target = target
        self.key = key
        self.buffered = False
        self._lock = threading.Lock()
        self._reopen = False
        self._closed = False
        self._pending: list[str] = []
        self._pending_size = 0
        self._stream: TextIO | None = None
        self._finalizer: weakref.finalize[..., LogFile] | None = None
        self._open()
        _open_files.add(self)

    def _open(self) -> None:
        if self.target == STDOUT:
            self._stream = None
            return
        try:
            stream = Path(self.target).open("a", encoding="utf-8")  # noqa: SIM115
        except OSError as ex:
            reason = ex.strerror or str(ex)
            msg = f"{self.key}: cannot open {self.target}: {reason}"
            raise ConfigError([msg]) from ex
        self._stream = stream
        # Close the file when the owner is garbage collected (tests build many services).
        self._finalizer = weakref.finalize(self, stream.close)

    def write(self, text: str) -> None:
        """Append ``text`` (one or more complete lines, each ending in ``\\n``)."""
        with self._lock:
            if self.buffered:
                self._pending.append(text)
                self._pending_size += len(text)
                if self._pending_size < BUFFER_BYTES:
                    return
                text = self._take()
            self._emit(text)

    def _take(self) -> str:
        text = "".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        return text

    def _emit(self, text: str) -> None:
        if self._closed or not text:
            return
        if self._reopen:
            self._do_reopen()
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):
            # A full disk or a closed stdout must not fail the request being logged.
            pass

    def flush(self) -> None:
        """Write whatever is buffered."""
        with self._lock:
            if self._pending:
                self._emit(self._take())

    def request_reopen(self) -> None:
        """Reopen the file before the next write (safe to call from a signal handler)."""
        self._reopen = True

    def _do_reopen(self) -> None:
        self._reopen = False
        if self.target == STDOUT:
            return
        old_finalizer = self._finalizer
        try:
            self._open()
        except ConfigError:
            return  # keep writing to the old file rather than losing lines
        if old_finalizer is not None:
            old_finalizer()

    def close(self) -> None:
        """Write what is buffered, stop writing and close the file (stdout is left open)."""
        with self._lock:
            if self._pending:
                self._emit(self._take())
            self._closed = True
            if self._finalizer is not None:
                self._finalizer()
            self._stream = None
        _open_files.discard(self)


def reopen_log_files() -> None:
    """Ask every open :class:`LogFile` of this process to reopen (what ``USR1`` does)."""
    for log_file in list(_open_files):
        log_file.request_reopen()
