"""Load ``config.yml``: ``${VAR}`` substitution, YAML, validation with dotted-key errors."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, ValidationError, fields

from scaffold.runtime.config_schema import (
    AuthConfig,
    ConfigSchema,
    CorsConfig,
    LoggingConfig,
    MetricsConfig,
    ServerConfig,
    TracingConfig,
)
from scaffold.runtime.exceptions import ConfigError

MASK = "********"

_VARIABLE = re.compile(r"\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_UNKNOWN = "Unknown field."


@dataclass(frozen=True)
class Config:
    """A validated service config.

    Attributes:
        server, logging, metrics, cors, auth, tracing: The typed sections of DESIGN 4.3.
        openapi: Serve ``/openapi.json`` and its page ``/docs`` on the app port.
        app: The service's own section, raw; validate it with :meth:`load_app`.
        source: The file it came from, if any.
    """

    server: ServerConfig = field(default_factory=ServerConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    cors: CorsConfig = field(default_factory=CorsConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    tracing: TracingConfig | None = None
    openapi: bool = True
    app: Mapping[str, Any] = field(default_factory=dict)
    source: Path | None = None

    def load_app(self, schema: Schema) -> Any:
        """Validate the ``app:`` section with the service's own ``schema``.

        Raises:
            ConfigError: One ``app.<key>: <problem>`` line per problem.
        """
        try:
            return schema.load(dict(self.app))
        except ValidationError as ex:
            problems = _flatten(ex.messages, schema, "app")
            raise ConfigError(problems, source=self.source) from ex

    def effective(self, *, mask_secrets: bool = True) -> dict[str, Any]:
        """Return the config with every default filled in, as plain data.

        Args:
            mask_secrets: Replace every value under ``auth`` and every key named like a
                ``logging.redact_fields`` entry with ``********``.
        """
        data: dict[str, Any] = ConfigSchema().dump(self)
        if mask_secrets:
            secret_keys = {name.lower() for name in self.logging.redact_fields}
            data = _mask(data, secret_keys, under_secret=False, path=())
        return data


def _mask(value: Any, secret_keys: set[str], *, under_secret: bool, path: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        return {
            key: _mask(
                item,
                secret_keys,
                under_secret=under_secret
                or (*path, str(key)) == ("auth",)
                or str(key).lower() in secret_keys,
                path=(*path, str(key)),
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_mask(item, secret_keys, under_secret=under_secret, path=path) for item in value]
    if under_secret and value is not None:
        return MASK
    return value


def substitute(
    text: str,
    env: Mapping[str, str],
    *,
    source: str = "config",
    missing: Callable[[str], str] | None = None,
) -> str:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in ``text``; ``$${`` stays a literal ``${``.

    Lines that are whole comments (first non-blank character ``#``) are not substituted.

    Args:
        text: The config text.
        env: The variables.
        source: How problems name the text (a file name).
        missing: Called with the name of a variable that is not set and has no default; what
            it returns replaces it. Without it, such a variable is a problem.

    Raises:
        ConfigError: A variable without a default is not set (one line per variable).
    """
    problems: list[str] = []

    def replace(match: re.Match[str], *, base: int) -> str:
        escaped, name, default = match.groups()
        if escaped:
            return match.group(0)[1:]
        if name in env:
            return env[name]
        if default is not None:
            return default
        if missing is not None:
            return missing(name)
        line = text.count("\n", 0, base + match.start()) + 1
        problems.append(f"{source}:{line}: ${{{name}}} is not set and has no default")
        return ""

    # Whole-line comments are left alone, so config files can document ${VAR} itself.
    lines = text.splitlines(keepends=True)
    offset = 0
    out = []
    for line in lines:
        if line.lstrip().startswith("#"):
            out.append(line)
        else:
            out.append(_VARIABLE.sub(functools.partial(replace, base=offset), line))
        offset += len(line)
    result = "".join(out)
    if problems:
        raise ConfigError(problems)
    return result


def parse_config(
    text: str, *, env: Mapping[str, str] | None = None, source: Path | None = None
) -> Config:
    """Substitute, parse and validate config ``text``.

    Raises:
        ConfigError: Every problem found, each naming its dotted key.
    """
    label = source.name if source else "config"
    try:
        text = substitute(text, os.environ if env is None else env, source=label)
    except ConfigError as ex:
        raise ConfigError(ex.problems, source=source) from ex
    return validate_config(read_yaml(text, source=source), source=source)


def read_yaml(text: str, *, source: Path | None = None) -> dict[str, Any]:
    """Parse substituted config ``text`` into its mapping of sections (not yet validated).

    Raises:
        ConfigError: The text is not YAML, or its top level is not a mapping.
    """
    label = source.name if source else "config"
    try:
        raw = yaml.safe_load(text)
    except yaml.reader.ReaderError as ex:  # a character YAML refuses outright
        line = text.count("\n", 0, ex.position) + 1
        column = ex.position - (text.rfind("\n", 0, ex.position) + 1) + 1
        problem = f"the character {chr(ex.character)!r} is not allowed in YAML"
        raise ConfigError(
            [f"{label}:{line}:{column}: invalid YAML: {problem}"], source=source
        ) from ex
    except yaml.YAMLError as ex:
        mark = getattr(ex, "problem_mark", None)
        where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark else label
        problem = " ".join((getattr(ex, "problem", None) or str(ex)).split())  # one line
        raise ConfigError([f"{where}: invalid YAML: {problem}"], source=source) from ex
    except ValueError as ex:  # a value its form or tag makes a date or number: 2026-13-01
        raise ConfigError([f"{label}: invalid YAML: {ex}"], source=source) from ex
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        msg = f"{label}: the top level must be a mapping of sections, not {type(raw).__name__}"
        raise ConfigError([msg], source=source)
    return raw


def validate_config(raw: Mapping[str, Any], *, source: Path | None = None) -> Config:
    """Validate the parsed sections of a config (what :func:`read_yaml` returns).

    Raises:
        ConfigError: Every problem found, each naming its dotted key.
    """
    schema = ConfigSchema()
    try:
        loaded = schema.load(dict(raw))
    except ValidationError as ex:
        raise ConfigError(_flatten(ex.messages, schema, ""), source=source) from ex
    return Config(**loaded, source=source)


def load_config(path: str | Path, *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file at ``path``.

    Args:
        path: The YAML file.
        env: Variables for ``${VAR}`` substitution (default: ``os.environ``).

    Raises:
        ConfigError: The file is unreadable, not UTF-8 or invalid; one line per problem.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as ex:
        reason = ex.strerror or str(ex)
        raise ConfigError([f"{source}: cannot read: {reason}"], source=source) from ex
    except UnicodeDecodeError as ex:
        msg = f"{source}: cannot read: not valid UTF-8 (byte {ex.start})"
        raise ConfigError([msg], source=source) from ex
    return parse_config(text, env=env, source=source.resolve())


def _flatten(messages: Any, schema: Schema | None, prefix: str) -> list[str]:
    """Turn marshmallow's nested messages into ``dotted.key: problem`` lines."""
    lines: list[str] = []
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, (dict, list)):
                lines.extend(_flatten(message, schema, prefix))
            else:
                lines.append(f"{prefix or '(top level)'}: {_sentence(str(message))}")
        return lines
    if not isinstance(messages, dict):
        return [f"{prefix or '(top level)'}: {_sentence(str(messages))}"]
    known = _field_names(schema)
    for key, value in messages.items():
        key_text = str(key)
        path = prefix if key_text == "_schema" else (f"{prefix}.{key_text}" if prefix else key_text)
        if value == [_UNKNOWN]:
            import difflib  # only a config with a typo pays for it

            hint = difflib.get_close_matches(key_text, known, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            allowed = f" (known keys: {', '.join(known)})" if known and not hint else ""
            lines.append(f"{path}: unknown key{suggestion}{allowed}")
            continue
        lines.extend(_flatten(value, _nested_schema(schema, key_text), path))
    return lines


def _field_names(schema: Schema | None) -> list[str]:
    if schema is None:
        return []
    return [f.data_key or name for name, f in schema.fields.items()]


def _nested_schema(schema: Schema | None, key: str) -> Schema | None:
    if schema is None:
        return None
    for name, f in schema.fields.items():
        if (f.data_key or name) == key and isinstance(f, fields.Nested):
            nested = f.schema
            return nested if isinstance(nested, Schema) else None
    return None


def _sentence(message: str) -> str:
    """marshmallow says "Not a valid integer."; we say "not a valid integer"."""
    message = message.rstrip(".")
    if message[:1].isupper() and not message[1:2].isupper():
        message = message[0].lower() + message[1:]
    return message
