"""Guards (go-tigertonic's ``If``/``First``): checks that run before a responder.

A check is ``check(req)``, plain or ``async def``. It returns ``None`` or a mapping of response
headers to add, or raises a :class:`falcon.HTTPError` to reject the request (answered as
problem+json). Checks run outermost first (service, namespaces, resource class, responder),
each in the order given; the first rejection wins. Plain checks run on the worker's thread
pool, so they may block. A check may carry ``responses = {403: "why"}``, which the OpenAPI
document lists for every operation it guards.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from scaffold.runtime.exceptions import DefinitionError
from scaffold.runtime.threadpool import ThreadPool

if TYPE_CHECKING:
    from scaffold.runtime.context import Request

Check = Callable[["Request"], "Mapping[str, str] | Awaitable[Mapping[str, str] | None] | None"]
T = TypeVar("T")
_GUARDS = "__scaffold_guards__"


def guard(*checks: Check) -> Callable[[T], T]:
    """Guard a resource class (all its responders) or one responder with ``checks``.

    Raises:
        DefinitionError: A check is not callable.
    """
    validated = validate_checks(checks)

    def decorate(target: T) -> T:
        own = target.__dict__ if isinstance(target, type) else vars(target)
        inner = own.get(_GUARDS, ())
        setattr(target, _GUARDS, (*validated, *inner))
        return target

    return decorate


def validate_checks(checks: Sequence[object]) -> tuple[Check, ...]:
    """``checks`` if each is callable.

    Raises:
        DefinitionError: One is not.
    """
    for check in checks:
        if not callable(check):
            msg = f"a guard check must be callable, not {check!r}"
            raise DefinitionError(msg)
    return tuple(checks)  # type: ignore[arg-type]


def class_guards(resource: object) -> tuple[Check, ...]:
    """The checks ``@guard`` put on ``resource``'s class (and its bases, outermost first)."""
    checks: tuple[Check, ...] = ()
    for cls in reversed(type(resource).__mro__):
        checks += cls.__dict__.get(_GUARDS, ())
    return checks


def responder_guards(responder: object) -> tuple[Check, ...]:
    """The checks ``@guard`` put on one responder."""
    func = getattr(responder, "__func__", responder)
    return tuple(getattr(func, _GUARDS, ()))


def declared_guards(resource: object, responder: object) -> tuple[Check, ...]:
    """The checks ``@guard`` put on ``resource``'s class, then on ``responder``."""
    return (*class_guards(resource), *responder_guards(responder))


def check_name(check: object) -> str:
    """How route tables name a check."""
    name = getattr(check, "__qualname__", None) or type(check).__qualname__
    return str(name)


def guarded(responder: Any, checks: Sequence[Check], pool: ThreadPool) -> Any:
    """``responder`` behind ``checks``, run in order at each request."""
    # Which checks are coroutine functions is decided once here, not at every request.
    plan = tuple((check, inspect.iscoroutinefunction(check)) for check in checks)

    async def serve(req: Any, resp: Any, **params: Any) -> None:
        for check, is_async in plan:
            headers: Any = check(req) if is_async else await pool.run(check, req)
            if inspect.isawaitable(headers):  # async def, or a plain callable returning one
                headers = await headers
            if headers:
                for name, value in headers.items():
                    resp.set_header(name, value)
        await responder(req, resp, **params)

    return functools.update_wrapper(serve, responder)
