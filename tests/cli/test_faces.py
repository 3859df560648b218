"""The CLI side's subpackages expose exactly their ``__all__`` (ruff keeps it sorted)."""

from __future__ import annotations

from types import ModuleType

import pytest

import scaffold.template
import scaffold.vendor


@pytest.mark.parametrize("package", [scaffold.template, scaffold.vendor], ids=lambda m: m.__name__)
def test_all_lists_every_public_name(package: ModuleType) -> None:
    """Every public name of the face is in ``__all__``, and nothing else is."""
    public = {name for name in vars(package) if not name.startswith("_")}
    assert public == set(package.__all__)
