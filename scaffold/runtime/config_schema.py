"""The marshmallow schemas and typed sections of ``config.yml`` (DESIGN 4.3)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

from scaffold.runtime.passwords import check_hash_format

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TLS_PROFILES = ("modern", "intermediate")
ACCESS_LOG_FORMATS = ("combined", "extended")  # extended = combined + " %D <request id>"
DEFAULT_REDACT_HEADERS = ("Authorization", "Cookie", "Set-Cookie", "Proxy-Authorization")
DEFAULT_REDACT_FIELDS = ("password", "token", "secret")

_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_]*):(?P<port>\d{1,5})$")


def parse_bind(value: str) -> str:
    """Check one gunicorn bind address (``host:port``, ``[::1]:port`` or ``unix:PATH``).

    Raises:
        ValidationError: The address is malformed or the port is out of range.
    """
    if value.startswith("unix:"):
        if len(value) == len("unix:"):
            msg = "unix: needs a socket path, e.g. unix:/run/acme.sock"
            raise ValidationError(msg)
        return value
    if value.startswith("fd://"):
        return value
    match = _HOST_PORT.match(value)
    if not match:
        msg = f"{value!r} is not HOST:PORT, [IPv6]:PORT or unix:PATH"
        raise ValidationError(msg)
    if int(match["port"]) > 65535:
        msg = f"port {match['port']} is out of range 0..65535"
        raise ValidationError(msg)
    return value


class BindField(fields.Field):  # type: ignore[type-arg]
    """One address or a list of them; always loads as a tuple of strings."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            msg = "must be an address string or a non-empty list of them"
            raise ValidationError(msg)
        for item in items:
            if not isinstance(item, str):
                msg = "must be an address string or a non-empty list of them"
                raise ValidationError(msg)
        return tuple(parse_bind(item) for item in items)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return value[0] if len(value) == 1 else list(value)


def _at_least(minimum: int) -> validate.Range:
    return validate.Range(min=minimum, error="must be >= {min}")


def _one_of(choices: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(choices, error="must be one of: {choices}")


class _Section(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


def _section(schema: type[Schema], **kwargs: Any) -> fields.Nested:
    """A nested section that loads as its typed default when the key is absent."""
    return fields.Nested(schema, load_default=lambda: schema().load({}), **kwargs)


@dataclass(frozen=True)
class TLSConfig:
    """``server.tls``: certificate, key, protocol profile and optional client CA."""

    certfile: str
    keyfile: str
    profile: str = "intermediate"
    client_ca: str | None = None


class TLSSchema(_Section):
    certfile = fields.String(required=True)
    keyfile = fields.String(required=True)
    profile = fields.String(load_default="intermediate", validate=_one_of(TLS_PROFILES))
    client_ca = fields.String(load_default=None, allow_none=True)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> TLSConfig:
        return TLSConfig(**data)


@dataclass(frozen=True)
class ServerConfig:
    """``server``: listeners, worker model, timeouts, limits and TLS.

    ``threads`` is the size of each worker's thread pool for plain (``def``) handlers;
    ``tls`` applies to the app listeners only, ``admin_tls`` to the admin listeners.
    """

    bind: tuple[str, ...] = ("127.0.0.1:8080",)
    admin_bind: tuple[str, ...] = ("127.0.0.1:8081",)
    workers: int = 2
    threads: int = 4
    graceful_timeout: float = 30
    drain_seconds: float = 0
    max_body_bytes: int = 1048576
    max_in_flight: int | None = None
    tls: TLSConfig | None = None
    admin_tls: TLSConfig | None = None


class ServerSchema(_Section):
    bind = BindField(load_default=("127.0.0.1:8080",))
    admin_bind = BindField(load_default=("127.0.0.1:8081",))
    workers = fields.Integer(load_default=2, strict=True, validate=_at_least(1))
    threads = fields.Integer(load_default=4, strict=True, validate=_at_least(1))
    graceful_timeout = fields.Float(
        load_default=30, validate=validate.Range(min=0, error="must be >= {min}")
    )
    drain_seconds = fields.Float(
        load_default=0, validate=validate.Range(min=0, error="must be >= {min}")
    )
    max_body_bytes = fields.Integer(load_default=1048576, strict=True, validate=_at_least(0))
    max_in_flight = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=_at_least(1)
    )
    tls = fields.Nested(TLSSchema, load_default=None, allow_none=True)
    admin_tls = fields.Nested(TLSSchema, load_default=None, allow_none=True)

    @validates_schema
    def _distinct_ports(self, data: dict[str, Any], **kwargs: Any) -> None:
        shared = set(data.get("bind", ())) & set(data.get("admin_bind", ()))
        if shared:
            msg = f"{sorted(shared)[0]} is also in server.bind; the admin port must be separate"
            raise ValidationError(msg, field_name="admin_bind")

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> ServerConfig:
        return ServerConfig(**data)


@dataclass(frozen=True)
class LoggingConfig:
    """``logging``: level, access log, request log and what the request log redacts."""

    level: str = "INFO"
    access_log: str | None = "-"
    access_log_format: str = "combined"
    request_log: str | None = None
    redact_headers: tuple[str, ...] = DEFAULT_REDACT_HEADERS
    redact_fields: tuple[str, ...] = DEFAULT_REDACT_FIELDS


class _UpperString(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).upper()


class LoggingSchema(_Section):
    level = _UpperString(load_default="INFO", validate=_one_of(LOG_LEVELS))
    access_log = fields.String(load_default="-", allow_none=True)
    access_log_format = fields.String(load_default="combined", validate=_one_of(ACCESS_LOG_FORMATS))
    request_log = fields.String(load_default=None, allow_none=True)
    redact_headers = fields.List(fields.String(), load_default=list(DEFAULT_REDACT_HEADERS))
    redact_fields = fields.List(fields.String(), load_default=list(DEFAULT_REDACT_FIELDS))

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> LoggingConfig:
        data["redact_headers"] = tuple(data["redact_headers"])
        data["redact_fields"] = tuple(data["redact_fields"])
        return LoggingConfig(**data)


@dataclass(frozen=True)
class StatsdConfig:
    """``metrics.statsd``: where per-route counters and timers go."""

    host: str = "127.0.0.1"
    port: int = 8125
    prefix: str = ""


class StatsdSchema(_Section):
    host = fields.String(load_default="127.0.0.1", validate=validate.Length(min=1))
    port = fields.Integer(
        load_default=8125,
        strict=True,
        validate=validate.Range(min=1, max=65535, error="must be 1..65535"),
    )
    prefix = fields.String(load_default="")

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> StatsdConfig:
        return StatsdConfig(**data)


@dataclass(frozen=True)
class MetricsConfig:
    """``metrics``: statsd export (``None`` = off)."""

    statsd: StatsdConfig | None = None


class MetricsSchema(_Section):
    statsd = fields.Nested(StatsdSchema, load_default=None, allow_none=True)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> MetricsConfig:
        return MetricsConfig(**data)


@dataclass(frozen=True)
class CorsConfig:
    """``cors``: which browser origins may call the app port."""

    allow_origins: tuple[str, ...] = ()
    allow_credentials: bool = False
    expose_headers: tuple[str, ...] = ()


_ORIGIN = re.compile(r"^https?://[^/\s]+$")


class CorsSchema(_Section):
    allow_origins = fields.List(fields.String(), load_default=list)
    allow_credentials = fields.Boolean(load_default=False)
    expose_headers = fields.List(fields.String(), load_default=list)

    @validates_schema
    def _origins(self, data: dict[str, Any], **kwargs: Any) -> None:
        origins = data.get("allow_origins", [])
        for origin in origins:
            if origin != "*" and not _ORIGIN.match(origin):
                msg = f"{origin!r} is not an origin like https://app.example.com (no path)"
                raise ValidationError(msg, field_name="allow_origins")
        if "*" in origins and data.get("allow_credentials"):
            msg = 'cannot be true with allow_origins ["*"]; list the origins instead'
            raise ValidationError(msg, field_name="allow_credentials")

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> CorsConfig:
        return CorsConfig(
            allow_origins=tuple(data["allow_origins"]),
            allow_credentials=data["allow_credentials"],
            expose_headers=tuple(data["expose_headers"]),
        )


@dataclass(frozen=True)
class BasicAuthConfig:
    """``auth.basic``: realm and user name -> password hash."""

    realm: str = "service"
    users: dict[str, str] = field(default_factory=dict)


class BasicAuthSchema(_Section):
    realm = fields.String(load_default="service", validate=validate.Length(min=1))
    users = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict)

    @validates_schema
    def _hashes(self, data: dict[str, Any], **kwargs: Any) -> None:
        problems: dict[str, list[str]] = {}
        for user, encoded in data.get("users", {}).items():
            if ":" in user or not user:
                problems[user] = ["a user name must be non-empty and contain no ':'"]
                continue
            problem = check_hash_format(encoded)
            if problem is not None:
                problems[user] = [f"{problem}; make one with `scaffold hash-password`"]
        if problems:
            raise ValidationError({"users": problems})

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> BasicAuthConfig:
        return BasicAuthConfig(**data)


@dataclass(frozen=True)
class AuthConfig:
    """``auth``: Basic auth on the app port (``None`` = no auth)."""

    basic: BasicAuthConfig | None = None


class AuthSchema(_Section):
    basic = fields.Nested(BasicAuthSchema, load_default=None, allow_none=True)

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> AuthConfig:
        return AuthConfig(**data)


class ConfigSchema(_Section):
    """The whole file; ``app`` stays raw until the service validates it."""

    @pre_load
    def _empty_sections(self, data: Any, **kwargs: Any) -> Any:
        # `metrics:` followed only by comments parses as None: treat it as an empty section.
        if isinstance(data, dict):
            sections = ("server", "logging", "metrics", "cors", "auth", "app")
            return {k: ({} if v is None and k in sections else v) for k, v in data.items()}
        return data

    server = _section(ServerSchema)
    logging = _section(LoggingSchema)
    metrics = _section(MetricsSchema)
    cors = _section(CorsSchema)
    auth = _section(AuthSchema)
    openapi = fields.Boolean(load_default=True)
    app = fields.Dict(keys=fields.String(), load_default=dict)
