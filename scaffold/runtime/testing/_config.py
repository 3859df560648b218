"""A service's config as a test sees it: defaults, not the shell; the test's own changes."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from scaffold.runtime.config import Config, read_yaml, substitute, validate_config
from scaffold.runtime.exceptions import ConfigError
from scaffold.runtime.testing._auth import TEST_USER, tester_hash
from scaffold.runtime.testing._statsd import StatsdCapture

# What an unset ${VAR} without a default becomes while loading; it must not survive.
_UNSET = "__scaffold_unset_{}__"
_UNSET_RE = re.compile(r"__scaffold_unset_([A-Za-z_][A-Za-z0-9_]*)__")
# The file's users are production's (their hashes come from the environment): replaced.
_USERS = ("auth", "basic", "users")


def load_test_config(
    path: str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    statsd: StatsdCapture | None = None,
    name: str = "",
) -> Config:
    """Load the config file at ``path`` as a test sees it (what the ``scaffold_config`` fixture is).

    - ``${VAR:-default}`` takes its default unless ``env`` names ``VAR``: the shell that runs
      the tests is never read.
    - When ``auth.basic`` is on, its ``users`` are the test user only (``TEST_USER``, whose
      password the test clients send); a ``${VAR}`` without a value among the file's users
      is no error, since they are dropped.
    - ``overrides`` is merged into the file before validation: mappings key by key, any
      other value (a list, a scalar, ``None``) replacing the file's.
    - With ``statsd``, ``metrics.statsd`` sends to that capture: prefix the file's, else
      ``name``; the capture's ``prefix`` is set to the same, so it reads names without it.

    Args:
        path: The service's ``config.yml``.
        overrides: The test's changes, e.g. ``{"server": {"max_in_flight": 1}}``.
        env: The variables the test gives ``${VAR}``.
        statsd: A started capture to send metrics to.
        name: The service's name, the statsd prefix when the file sets none.

    Raises:
        ConfigError: The file cannot be read or is invalid once changed, or a ``${VAR}``
            without a default is not in ``env`` (outside ``auth.basic.users``).
    """
    source = Path(path).resolve()
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as ex:
        reason = ex.strerror or str(ex)
        raise ConfigError([f"{source}: cannot read: {reason}"], source=source) from ex
    text = substitute(text, env or {}, source=source.name, missing=_UNSET.format)
    raw = read_yaml(text, source=source)
    basic = _get(raw, _USERS[:2])
    if isinstance(basic, dict):
        basic["users"] = {}
    raw = merge(raw, overrides or {})
    basic = _get(raw, _USERS[:2])
    if isinstance(basic, dict):
        users = basic.get("users")
        basic["users"] = {**(users if isinstance(users, dict) else {}), TEST_USER: tester_hash()}
    if statsd is not None:
        _point_at(raw, statsd, name)
    unset = [
        f"{source.name}: {where}: ${{{var}}} is not set and has no default; a test gives it "
        f"with @pytest.mark.scaffold_config(env={{{var!r}: ...}})"
        for where, var in _unset_variables(raw, ())
    ]
    if unset:
        raise ConfigError(unset, source=source)
    return validate_config(raw, source=source)


def merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``changes`` merged in: mappings key by key, anything else replaced."""
    out = {key: copy.deepcopy(value) for key, value in base.items()}
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _get(raw: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    value: Any = raw
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _point_at(raw: dict[str, Any], statsd: StatsdCapture, name: str) -> None:
    """Send ``metrics.statsd`` to ``statsd``, keeping the file's other statsd settings."""
    metrics = raw.get("metrics")
    if not isinstance(metrics, dict):
        metrics = raw["metrics"] = {}
    section = metrics.get("statsd")
    section = dict(section) if isinstance(section, dict) else {}
    statsd.prefix = str(section.get("prefix") or name)
    section.update(host="127.0.0.1", port=statsd.port, prefix=statsd.prefix)
    metrics["statsd"] = section


def _unset_variables(value: Any, path: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """``(dotted.key, VAR)`` of every unset variable left in ``value``."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _unset_variables(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unset_variables(item, (*path, str(index)))
    elif isinstance(value, str):
        for match in _UNSET_RE.finditer(value):
            yield ".".join(path) or "(top level)", match.group(1)
