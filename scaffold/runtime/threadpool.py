"""The worker's thread pool for plain (``def``) handlers.

Each worker process serves from one event loop; a plain handler may block (most database
drivers do), so it runs on one of ``server.threads`` threads instead, and the loop serves
other requests meanwhile.

Why not :meth:`asyncio.loop.run_in_executor`: it wraps a :class:`concurrent.futures.Future`
in an :class:`asyncio.Future` and pays for both, about three times what this pool costs a
call under load (a C-implemented :class:`queue.SimpleQueue` in, one ``call_soon_threadsafe``
out; ``bench/handoff.py``: 46 against 14 us here). Threads start on first use, so a process
that forks (the gunicorn master) never holds one.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = None


class ThreadPool:
    """Run plain callables on a fixed number of threads, awaited from an event loop.

    Args:
        size: How many calls may run at once (``server.threads``).
        name: Prefix of the threads' names (shown by the admin port's ``/threads``).
    """

    def __init__(self, size: int, name: str = "handler") -> None:
        self.size = size
        self.name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def _start(self) -> None:
        with self._lock:
            if self._threads or self._closed:
                return
            for number in range(self.size):
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{number}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        get = self._queue.get
        while True:
            item = get()
            if item is _STOP:
                return
            loop, future, context, func, args, kwargs = item
            try:
                result = context.run(func, *args, **kwargs)
            except Exception as ex:  # delivered to the awaiting request, not lost here
                loop.call_soon_threadsafe(_fail, future, ex)
            except BaseException as ex:  # SystemExit in a handler must not stop the worker
                error = RuntimeError(f"the handler raised {type(ex).__name__}")
                error.__cause__ = ex
                loop.call_soon_threadsafe(_fail, future, error)
            else:
                loop.call_soon_threadsafe(_succeed, future, result)

    def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Call ``func(*args, **kwargs)`` on a pool thread; await the returned future.

        The call sees the caller's context variables (the request id in log lines).

        Raises:
            RuntimeError: The pool was shut down, or no event loop is running.
        """
        if not self._threads:
            if self._closed:
                msg = "the handler thread pool is shut down"
                raise RuntimeError(msg)
            self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((loop, future, contextvars.copy_context(), func, args, kwargs))
        return future

    def shutdown(self, timeout: float = 5.0) -> None:
        """Let the threads finish what they run, then stop them.

        Waits up to ``timeout`` seconds for each; one stuck in a handler is left behind
        (the threads are daemons, so it cannot keep the process alive).
        """
        with self._lock:
            self._closed = True
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(_STOP)
        for thread in threads:
            thread.join(timeout)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.cancelled():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], ex: BaseException) -> None:
    if not future.cancelled():
        future.set_exception(ex)
