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
LOG_FORMATS = ("text", "json")
DEFAULT_REDACT_HEADERS = ("Authorization", "Cookie", "Set-Cookie", "Proxy-Authorization")

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
    """A config section: loads as its dataclass (:attr:`section`).

    Fields carry no defaults: a key left out of the file takes the dataclass's own default,
    so each default is written once, on the dataclass.
    """

    section: Any = None

    class Meta:
        unknown = RAISE
        ordered = True

    def default(self, key: str) -> Any:
        """The dataclass default of ``key`` (for checks that compare keys given or not)."""
        return self.section.__dataclass_fields__[key].default

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> Any:
        return self.section(**data)


class _Tuple(fields.List):  # type: ignore[type-arg]
    """A YAML list that loads as a tuple (sections are frozen)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        return tuple(super()._deserialize(value, attr, data, **kwargs))


@dataclass(frozen=True)
class TLSConfig:
    """``server.tls``: certificate, key, protocol profile and optional client CA."""

    certfile: str
    keyfile: str
    profile: str = "intermediate"
    client_ca: str | None = None


class TLSSchema(_Section):
    section = TLSConfig
    certfile = fields.String(required=True)
    keyfile = fields.String(required=True)
    profile = fields.String(validate=_one_of(TLS_PROFILES))
    client_ca = fields.String(allow_none=True)


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
    section = ServerConfig
    bind = BindField()
    admin_bind = BindField()
    workers = fields.Integer(strict=True, validate=_at_least(1))
    threads = fields.Integer(strict=True, validate=_at_least(1))
    graceful_timeout = fields.Float(validate=validate.Range(min=0, error="must be >= {min}"))
    drain_seconds = fields.Float(validate=validate.Range(min=0, error="must be >= {min}"))
    max_body_bytes = fields.Integer(strict=True, validate=_at_least(0))
    max_in_flight = fields.Integer(allow_none=True, strict=True, validate=_at_least(1))
    tls = fields.Nested(TLSSchema, allow_none=True)
    admin_tls = fields.Nested(TLSSchema, allow_none=True)

    @validates_schema
    def _distinct_ports(self, data: dict[str, Any], **kwargs: Any) -> None:
        bind = data.get("bind", self.default("bind"))
        shared = set(bind) & set(data.get("admin_bind", self.default("admin_bind")))
        if shared:
            msg = f"{sorted(shared)[0]} is also in server.bind; the admin port must be separate"
            raise ValidationError(msg, field_name="admin_bind")


@dataclass(frozen=True)
class LoggingConfig:
    """``logging``: level, access log, request log and what the request log redacts."""

    level: str = "INFO"
    format: str = "text"
    access_log: str | None = "-"
    access_log_format: str = "combined"
    request_log: str | None = None
    redact_headers: tuple[str, ...] = DEFAULT_REDACT_HEADERS
    redact_fields: tuple[str, ...] = ("password", "token", "secret")


class _UpperString(fields.String):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).upper()


class LoggingSchema(_Section):
    section = LoggingConfig
    level = _UpperString(validate=_one_of(LOG_LEVELS))
    format = fields.String(validate=_one_of(LOG_FORMATS))
    access_log = fields.String(allow_none=True)
    access_log_format = fields.String(validate=_one_of(ACCESS_LOG_FORMATS))
    request_log = fields.String(allow_none=True)
    redact_headers = _Tuple(fields.String())
    redact_fields = _Tuple(fields.String())


@dataclass(frozen=True)
class StatsdConfig:
    """``metrics.statsd``: where per-route counters and timers go.

    ``tags`` sends the route, method and status as DogStatsD tags instead of in the name.
    """

    host: str = "127.0.0.1"
    port: int = 8125
    prefix: str = ""
    tags: bool = False


class StatsdSchema(_Section):
    section = StatsdConfig
    host = fields.String(validate=validate.Length(min=1))
    port = fields.Integer(
        strict=True, validate=validate.Range(min=1, max=65535, error="must be 1..65535")
    )
    prefix = fields.String()
    tags = fields.Boolean()


@dataclass(frozen=True)
class MetricsConfig:
    """``metrics``: statsd export (``None`` = off), and how often gauges are read.

    ``gauge_seconds``: how often each worker reads the gauges that read a function (and its
    process metrics) and exports them.
    """

    statsd: StatsdConfig | None = None
    gauge_seconds: float = 10


class MetricsSchema(_Section):
    section = MetricsConfig
    statsd = fields.Nested(StatsdSchema, allow_none=True)
    gauge_seconds = fields.Float(validate=validate.Range(min=1, error="must be >= {min}"))


@dataclass(frozen=True)
class TracingConfig:
    """``tracing``: OpenTelemetry spans exported over OTLP/HTTP (the ``[otel]`` extra)."""

    endpoint: str = "http://127.0.0.1:4318/v1/traces"
    service_name: str = ""
    sample_ratio: float = 1.0


class TracingSchema(_Section):
    section = TracingConfig
    endpoint = fields.Url(schemes={"http", "https"}, require_tld=False)
    service_name = fields.String()
    sample_ratio = fields.Float(
        validate=validate.Range(min=0, max=1, error="must be between {min} and {max}")
    )


@dataclass(frozen=True)
class CorsConfig:
    """``cors``: which browser origins may call the app port."""

    allow_origins: tuple[str, ...] = ()
    allow_credentials: bool = False
    expose_headers: tuple[str, ...] = ()


_ORIGIN = re.compile(r"^https?://[^/\s]+$")


class CorsSchema(_Section):
    section = CorsConfig
    allow_origins = _Tuple(fields.String())
    allow_credentials = fields.Boolean()
    expose_headers = _Tuple(fields.String())

    @validates_schema
    def _origins(self, data: dict[str, Any], **kwargs: Any) -> None:
        origins = data.get("allow_origins", self.default("allow_origins"))
        for origin in origins:
            if origin != "*" and not _ORIGIN.match(origin):
                msg = f"{origin!r} is not an origin like https://app.example.com (no path)"
                raise ValidationError(msg, field_name="allow_origins")
        if "*" in origins and data.get("allow_credentials"):
            msg = 'cannot be true with allow_origins ["*"]; list the origins instead'
            raise ValidationError(msg, field_name="allow_credentials")


@dataclass(frozen=True)
class BasicAuthConfig:
    """``auth.basic``: realm and user name -> password hash."""

    realm: str = "service"
    users: dict[str, str] = field(default_factory=dict)


class BasicAuthSchema(_Section):
    section = BasicAuthConfig
    realm = fields.String(validate=validate.Length(min=1))
    users = fields.Dict(keys=fields.String(), values=fields.String())

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


@dataclass(frozen=True)
class AuthConfig:
    """``auth``: Basic auth on the app port (``None`` = no auth)."""

    basic: BasicAuthConfig | None = None


class AuthSchema(_Section):
    section = AuthConfig
    basic = fields.Nested(BasicAuthSchema, allow_none=True)


class ConfigSchema(_Section):
    """The whole file; ``app`` stays raw until the service validates it.

    It loads as a dict of sections (:func:`~scaffold.runtime.config.parse_config` makes
    the :class:`~scaffold.runtime.config.Config`, which also records where it came from).
    """

    @pre_load
    def _empty_sections(self, data: Any, **kwargs: Any) -> Any:
        # `metrics:` followed only by comments parses as None: treat it as an empty section.
        if isinstance(data, dict):
            return {k: ({} if v is None and k in SECTIONS else v) for k, v in data.items()}
        return data

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> Any:
        return data

    server = fields.Nested(ServerSchema)
    logging = fields.Nested(LoggingSchema)
    metrics = fields.Nested(MetricsSchema)
    cors = fields.Nested(CorsSchema)
    auth = fields.Nested(AuthSchema)
    tracing = fields.Nested(TracingSchema, allow_none=True)
    openapi = fields.Boolean()
    app = fields.Dict(keys=fields.String())


SECTIONS = ("server", "logging", "metrics", "cors", "auth", "app")
"""The sections of ``config.yml`` that may be left blank (``metrics:`` with only comments).

Not ``tracing``: like ``server.tls`` it is off when absent or null, so a blank ``tracing:``
(say, with its keys commented out) leaves tracing off; ``tracing: {}`` turns it on."""
