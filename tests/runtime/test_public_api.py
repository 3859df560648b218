"""The public surface of ``scaffold.runtime`` is exactly its ``__all__``."""

from __future__ import annotations

import scaffold.runtime


def test_all_lists_every_public_name():
    """Every public name is in ``__all__`` and ``__all__`` is sorted (httpx's export test)."""
    public = {
        name
        for name, value in vars(scaffold.runtime).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("scaffold.")
    }
    assert public == set(scaffold.runtime.__all__)
    assert scaffold.runtime.__all__ == sorted(scaffold.runtime.__all__)


def test_exported_names_come_from_the_runtime():
    """Each exported object is defined in ``scaffold.runtime``, not a third-party package."""
    for name in scaffold.runtime.__all__:
        module = getattr(getattr(scaffold.runtime, name), "__module__", "")
        assert module.startswith("scaffold.runtime."), name
