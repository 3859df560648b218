"""Health checks: named callables run with a timeout; a failure is a result, never a 500."""

from __future__ import annotations

import concurrent.futures
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from scaffold.runtime.exceptions import DefinitionError

log = logging.getLogger("scaffold.health")

DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class HealthResult:
    """The outcome of one check.

    Attributes:
        healthy: Whether the check passed.
        message: A short human-readable explanation (``None`` when there is nothing to say).
    """

    healthy: bool
    message: str | None = None

    @classmethod
    def ok(cls, message: str | None = None) -> HealthResult:
        """A passing result."""
        return cls(True, message)

    @classmethod
    def fail(cls, message: str) -> HealthResult:
        """A failing result; say what is wrong."""
        return cls(False, message)


CheckReturn = HealthResult | bool | None
HealthCheck = Callable[[], CheckReturn]
"""A check returns a :class:`HealthResult`, ``True``/``None`` (healthy) or ``False``, or raises."""


@dataclass(frozen=True)
class CheckOutcome:
    """One check's result as ``/healthcheck`` reports it."""

    name: str
    healthy: bool
    message: str | None
    duration_ms: float
    critical: bool

    def as_json(self) -> dict[str, object]:
        """The check's entry in the ``/healthcheck`` body."""
        return {"healthy": self.healthy, "message": self.message, "duration_ms": self.duration_ms}


@dataclass(frozen=True)
class _Registered:
    check: HealthCheck
    critical: bool
    timeout: float


class HealthRegistry:
    """The checks of one service, run concurrently, each bounded by its timeout."""

    def __init__(self) -> None:
        self._checks: dict[str, _Registered] = {}
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def add(
        self,
        name: str,
        check: HealthCheck,
        *,
        critical: bool = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Register ``check`` under ``name`` (unique).

        Raises:
            DefinitionError: The name is taken or ``check`` is not callable.
        """
        if name in self._checks:
            msg = f"a health check named {name!r} is already registered"
            raise DefinitionError(msg)
        if not callable(check):
            msg = f"health check {name!r} must be callable, not {check!r}"
            raise DefinitionError(msg)
        self._checks[name] = _Registered(check, critical, timeout)

    @property
    def names(self) -> list[str]:
        """Registered check names, sorted."""
        return sorted(self._checks)

    def run(self) -> list[CheckOutcome]:
        """Run every check; return outcomes sorted by name."""
        if not self._checks:
            return []
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=min(8, len(self._checks)), thread_name_prefix="healthcheck"
            )
        started = time.perf_counter()
        futures = {name: self._pool.submit(_timed, reg.check) for name, reg in self._checks.items()}
        outcomes = []
        for name in sorted(futures):
            reg = self._checks[name]
            remaining = max(0.0, reg.timeout - (time.perf_counter() - started))
            try:
                result, duration = futures[name].result(timeout=remaining)
            except concurrent.futures.TimeoutError:
                result = HealthResult.fail(f"timed out after {reg.timeout:g}s")
                duration = reg.timeout
            outcomes.append(
                CheckOutcome(
                    name=name,
                    healthy=result.healthy,
                    message=result.message,
                    duration_ms=round(duration * 1000, 3),
                    critical=reg.critical,
                )
            )
        return outcomes


def _timed(check: HealthCheck) -> tuple[HealthResult, float]:
    started = time.perf_counter()
    try:
        value = check()
    except Exception as ex:
        log.warning("health check raised", exc_info=ex)
        result = HealthResult.fail(f"{type(ex).__name__}: {ex}")
    else:
        result = _normalise(value)
    return result, time.perf_counter() - started


def _normalise(value: CheckReturn) -> HealthResult:
    if isinstance(value, HealthResult):
        return value
    if value is None or value is True:
        return HealthResult.ok()
    if value is False:
        return HealthResult.fail("check returned False")
    return HealthResult.fail(f"check returned {value!r}, not a HealthResult or bool")
