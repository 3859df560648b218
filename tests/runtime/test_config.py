"""Config loading (DESIGN 4.3): substitution, defaults, validation errors by dotted key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from scaffold.runtime import Config, ConfigError, load_config, parse_config
from scaffold.runtime.config import MASK
from scaffold.runtime.config_schema import ConfigSchema
from scaffold.runtime.passwords import hash_password


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, env=env or {})
    return info.value.problems


def test_empty_file_gives_documented_defaults() -> None:
    """An empty file is every key at its documented default."""
    config = parse_config("", env={})
    assert config.server.bind == ("127.0.0.1:8080",)
    assert config.server.admin_bind == ("127.0.0.1:8081",)
    assert config.server.workers == 2
    assert config.server.threads == 4
    assert config.server.graceful_timeout == 30
    assert config.server.drain_seconds == 0
    assert config.server.max_body_bytes == 1048576
    assert config.server.max_in_flight is None
    assert config.server.tls is None
    assert config.logging.level == "INFO"
    assert config.logging.access_log == "-"
    assert config.logging.request_log is None
    assert config.logging.redact_headers == (
        "Authorization",
        "Cookie",
        "Set-Cookie",
        "Proxy-Authorization",
    )
    assert config.logging.redact_fields == ("password", "token", "secret")
    assert config.metrics.statsd is None
    assert config.cors.allow_origins == ()
    assert config.cors.allow_credentials is False
    assert config.auth.basic is None
    assert config.openapi is True
    assert dict(config.app) == {}


def test_empty_file_is_the_dataclass_defaults() -> None:
    """The schemas add no default of their own: an empty file loads as ``Config()``."""
    assert parse_config("", env={}) == Config(source=None)
    assert parse_config("server:\nlogging:\nmetrics:\ncors:\nauth:\napp:\n", env={}) == Config()


ABSENT, REQUIRED = "absent", "required"
README = Path(__file__).resolve().parents[2] / "README.md"


def _code_defaults(schema: Schema, section: type, prefix: str = "") -> dict[str, Any]:
    """Every key of ``section`` with its default as config.yml writes it (or absent/required)."""
    out: dict[str, Any] = {}
    for item in dataclasses.fields(section):
        if item.name == "source":  # where the file came from: not a key of it
            continue
        key = f"{prefix}{item.name}"
        field = schema.fields[item.name]
        if isinstance(field, fields.Nested):
            nested = field.schema
            if item.default is None:
                out[key] = ABSENT
            out.update(_code_defaults(nested, nested.section, f"{key}."))
        elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
            out[key] = REQUIRED
        else:
            value = item.default_factory() if item.default is dataclasses.MISSING else item.default
            out[key] = field.serialize(item.name, {item.name: value})
    return out


def _readme_defaults() -> dict[str, Any]:
    """The key and default columns of README's Defaults table, as config.yml would write them."""
    text = README.read_text(encoding="utf-8").split("## Defaults", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_.]+)` \| ([^|]+) \|", text, flags=re.MULTILINE)
    out: dict[str, Any] = {}
    for key, cell in rows:
        cell = cell.strip()
        out[key] = cell if cell in (ABSENT, REQUIRED) else yaml.safe_load(cell.strip("`"))
    return out


def test_readme_defaults_table_matches_the_code() -> None:
    """README's Defaults table lists every config key with the default the code applies."""
    assert _readme_defaults() == _code_defaults(ConfigSchema(), Config)


@pytest.mark.parametrize(
    ("text", "on"),
    [("", False), ("tracing:\n", False), ("tracing: null\n", False), ("tracing: {}\n", True)],
    ids=["absent", "blank", "null", "empty-mapping"],
)
def test_tracing_is_on_only_with_a_mapping(text: str, on: bool) -> None:
    """Absent, blank or null leaves tracing off; an empty mapping turns it on with defaults."""
    assert (parse_config(text, env={}).tracing is not None) is on


def test_the_effective_config_reads_back_as_itself() -> None:
    """What ``scaffold check`` prints (unmasked) loads back to the same config."""
    config = parse_config("server: {workers: 3}\nmetrics: {statsd: {port: 9125}}\n", env={})
    text = yaml.safe_dump(config.effective(mask_secrets=False), sort_keys=False)
    assert parse_config(text, env={}) == config


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "server:\n  workers: 2\x07\n",
            "config:2:13: invalid YAML: the character '\\x07' is not allowed in YAML",
        ),
        (
            "\n\nserver:\n  workers: 2\x07\n",
            "config:4:13: invalid YAML: the character '\\x07' is not allowed in YAML",
        ),
        (
            "\nserver: {workers: 2\x07}\n",
            "config:2:20: invalid YAML: the character '\\x07' is not allowed in YAML",
        ),
        ("a: [1, 2", "config:1:9: invalid YAML: expected ',' or ']', but got '<stream end>'"),
        ("app:\n  released: 2026-13-01\n", "config: invalid YAML: month must be in 1..12"),
        (
            "server: {workers: !!int two}\n",
            "config: invalid YAML: invalid literal for int() with base 10: 'two'",
        ),
    ],
    ids=[
        "refused-character",
        "refused-character-after-blank-lines",
        "refused-character-after-one-blank-line",
        "unclosed-list",
        "not-a-date",
        "not-a-number",
    ],
)
def test_invalid_yaml_is_one_line_with_its_place(text: str, problem: str) -> None:
    """A YAML error is one line naming line and column, even for a character YAML refuses.

    A value YAML reads as a date or a number that is none is one line too (with no place).
    """
    assert problems(text) == [problem]


def test_bind_may_be_a_list() -> None:
    """server.bind takes a string or a list."""
    config = parse_config('server: {bind: ["127.0.0.1:1", "unix:/tmp/a.sock"]}', env={})
    assert config.server.bind == ("127.0.0.1:1", "unix:/tmp/a.sock")


def test_variables_are_substituted() -> None:
    """${VAR} and ${VAR:-default} are replaced before parsing."""
    text = "server:\n  workers: ${W}\n  threads: ${T:-8}\n  bind: '${B:-127.0.0.1:9}'\n"
    config = parse_config(text, env={"W": "3", "B": "127.0.0.1:7"})
    assert (config.server.workers, config.server.threads) == (3, 8)
    assert config.server.bind == ("127.0.0.1:7",)


def test_escaped_dollar_stays_literal() -> None:
    """$${X} is a literal ${X}."""
    config = parse_config("app: {template: '$${NAME}'}", env={})
    assert config.app["template"] == "${NAME}"


def test_undefined_variable_names_line() -> None:
    """A variable without default that is not set is an error naming it and its line."""
    assert problems("server:\n  workers: ${WORKERS}\n") == [
        "config:2: ${WORKERS} is not set and has no default"
    ]


def test_undefined_variables_are_each_named_with_their_own_line() -> None:
    """Line numbers count from 1, whatever precedes the variable on its line and above it."""
    text = (
        "\n# a comment\nserver:\n  workers: ${A}\n  threads: 2\n  bind: 'x:${B}'\nopenapi: true\n"
    )
    assert problems(text) == [
        "config:4: ${A} is not set and has no default",
        "config:6: ${B} is not set and has no default",
    ]


def test_variables_come_from_the_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an explicit env, ${VAR} reads the process environment."""
    monkeypatch.setenv("SCAFFOLD_TEST_WORKERS", "5")
    assert parse_config("server: {workers: ${SCAFFOLD_TEST_WORKERS}}").server.workers == 5


@pytest.mark.parametrize(
    "comment", ["# set ${ANYTHING} here", "   # indented ${ANYTHING}"], ids=["plain", "indented"]
)
def test_comment_lines_are_not_substituted(comment: str) -> None:
    """Whole-line comments, indented or not, may mention ${VAR} freely."""
    assert parse_config(f"{comment}\nopenapi: false\n", env={}).openapi is False


def test_log_level_is_case_insensitive() -> None:
    """logging.level takes any case and loads upper-case, as the logging module names levels."""
    assert parse_config("logging: {level: debug}", env={}).logging.level == "DEBUG"


@pytest.mark.parametrize(
    ("bind", "loaded"),
    [
        ("fd://3", ("fd://3",)),
        ("127.0.0.1:65535", ("127.0.0.1:65535",)),
        ("unix:/run/acme.sock", ("unix:/run/acme.sock",)),
    ],
    ids=["systemd-fd", "highest-port", "unix-socket"],
)
def test_bind_forms(bind: str, loaded: tuple[str, ...]) -> None:
    """A bind is HOST:PORT up to port 65535, unix:PATH or a socket systemd passes (fd://N)."""
    assert parse_config(f"server: {{bind: '{bind}'}}", env={}).server.bind == loaded


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("server: {workers: 0}", "server.workers: must be >= 1"),
        ("server: {threads: -1}", "server.threads: must be >= 1"),
        ("server: {workers: two}", "server.workers: not a valid integer"),
        (
            "server: {bind: 'nonsense'}",
            "server.bind: 'nonsense' is not HOST:PORT, [IPv6]:PORT or unix:PATH",
        ),
        ("server: {bind: '127.0.0.1:70000'}", "server.bind: port 70000 is out of range 0..65535"),
        ("server: {bind: '127.0.0.1:65536'}", "server.bind: port 65536 is out of range 0..65535"),
        (
            "server: {bind: 'unix:'}",
            "server.bind: unix: needs a socket path, e.g. unix:/run/acme.sock",
        ),
        (
            "server: {bind: 42}",
            "server.bind: must be an address string or a non-empty list of them",
        ),
        (
            "server: {bind: []}",
            "server.bind: must be an address string or a non-empty list of them",
        ),
        (
            "server: {bind: [1]}",
            "server.bind: must be an address string or a non-empty list of them",
        ),
        (
            "server: {bind: ':1', admin_bind: ':1'}",
            "server.admin_bind: :1 is also in server.bind; the admin port must be separate",
        ),
        ("server: {tls: {certfile: a.pem}}", "server.tls.keyfile: missing data for required field"),
        (
            "server: {tls: {certfile: a, keyfile: b, profile: old}}",
            "server.tls.profile: must be one of: modern, intermediate",
        ),
        (
            "logging: {level: LOUD}",
            "logging.level: must be one of: DEBUG, INFO, WARNING, ERROR, CRITICAL",
        ),
        ("metrics: {statsd: {port: 0}}", "metrics.statsd.port: must be 1..65535"),
        (
            "cors: {allow_origins: ['example.com']}",
            "cors.allow_origins: 'example.com' is not an origin like https://app.example.com (no path)",
        ),
        (
            "cors: {allow_origins: ['*'], allow_credentials: true}",
            'cors.allow_credentials: cannot be true with allow_origins ["*"]; list the origins instead',
        ),
        ("openapi: maybe", "openapi: not a valid boolean"),
    ],
    ids=lambda v: v if len(v) < 30 else None,
)
def test_invalid_values_name_the_dotted_key(text: str, expected: str) -> None:
    """Every validation error names its dotted key and the problem."""
    assert problems(text) == [expected]


def test_unknown_key_suggests_the_right_one() -> None:
    """Unknown keys are errors with a did-you-mean hint."""
    assert problems("server: {wokers: 2}") == [
        "server.wokers: unknown key; did you mean 'workers'?"
    ]
    assert problems("loging: {}") == ["loging: unknown key; did you mean 'logging'?"]


def test_unknown_key_without_close_match_lists_keys() -> None:
    """With no close match, the known keys are listed."""
    (line,) = problems("metrics: {prometheus: {}}")
    assert line == "metrics.prometheus: unknown key (known keys: statsd, gauge_seconds)"
    (line,) = problems("cors: {zzz: 1}")
    assert line == (
        "cors.zzz: unknown key (known keys: allow_origins, allow_credentials, expose_headers)"
    )


def test_all_problems_are_reported_at_once() -> None:
    """Several problems give one line each, unknown keys included."""
    lines = problems(
        "server: {workers: 0, threads: 0, wokers: 1, thraeds: 1}\nlogging: {level: LOUD}"
    )
    assert sorted(lines) == [
        "logging.level: must be one of: DEBUG, INFO, WARNING, ERROR, CRITICAL",
        "server.thraeds: unknown key; did you mean 'threads'?",
        "server.threads: must be >= 1",
        "server.wokers: unknown key; did you mean 'workers'?",
        "server.workers: must be >= 1",
    ]


def test_yaml_syntax_error_has_position() -> None:
    """Broken YAML names the line and column, and what the parser expected."""
    assert problems("server:\n  workers: [1, 2\n") == [
        "config:3:1: invalid YAML: expected ',' or ']', but got '<stream end>'"
    ]


def test_top_level_must_be_a_mapping() -> None:
    """A list at the top level is refused clearly."""
    assert problems("- a\n- b\n") == [
        "config: the top level must be a mapping of sections, not list"
    ]


def test_empty_sections_are_defaults() -> None:
    """A section with only comments under it counts as empty."""
    config = parse_config("metrics:\n  # statsd: {}\nserver:\n", env={})
    assert config.metrics.statsd is None
    assert config.server.workers == 2


class AppSettings(Schema):
    greeting = fields.String(required=True, validate=validate.Length(min=1))


def test_app_section_is_validated_by_the_service_schema() -> None:
    """The service's own schema validates `app:`; errors say app.<key>."""
    config = parse_config("app: {greeting: hi}", env={})
    assert config.load_app(AppSettings()) == {"greeting": "hi"}
    bad = parse_config("app: {greting: hi}", env={})
    with pytest.raises(ConfigError) as info:
        bad.load_app(AppSettings())
    assert sorted(info.value.problems) == [
        "app.greeting: missing data for required field",
        "app.greting: unknown key; did you mean 'greeting'?",
    ]


def test_app_section_problems_read_as_sentences() -> None:
    """Problems are named by their dotted key however the schema nests them; lower-case first
    letter, acronyms kept."""

    class Network(Schema):
        host = fields.String()

        @validates_schema
        def _check(self, data: dict[str, Any], **kwargs: Any) -> None:
            raise ValidationError(["IPv6 hosts need brackets.", "TLS needs a port.", "Use X."])

    class Upstreams(Schema):
        hosts = fields.List(fields.String())

        @validates_schema
        def _check(self, data: dict[str, Any], **kwargs: Any) -> None:
            raise ValidationError(
                {"hosts": [{"name": "Required."}, ["Unreachable."]], "port": "Bad."}
            )

    with pytest.raises(ConfigError) as info:
        parse_config("app: {host: '::1'}", env={}).load_app(Network())
    assert info.value.problems == [
        "app: IPv6 hosts need brackets",
        "app: TLS needs a port",
        "app: use X",
    ]
    with pytest.raises(ConfigError) as info:
        parse_config("app: {hosts: [a]}", env={}).load_app(Upstreams())
    assert info.value.problems == [
        "app.hosts.name: required",
        "app.hosts: unreachable",
        "app.port: bad",
    ]


def test_a_file_is_read_as_utf8_and_named_in_its_problems(tmp_path: Path) -> None:
    """load_config reads UTF-8, and every problem it finds names the file and keeps it."""
    path = tmp_path / "config.yml"
    path.write_text("cors: {allow_origins: ['https://caf\u00e9.example']}\n", encoding="utf-8")
    config = load_config(path)
    assert config.cors.allow_origins == ("https://caf\u00e9.example",)
    assert config.source == path.resolve()
    broken = {
        "server: {workers: ${W}}\n": "config.yml:1: ${W} is not set and has no default",
        "server: [1\n": "config.yml:2:1: invalid YAML: expected ',' or ']', but got '<stream end>'",
        "server: {workers: 2\x07}\n": (
            "config.yml:1:20: invalid YAML: the character '\\x07' is not allowed in YAML"
        ),
        "app: {released: 2026-13-01}\n": "config.yml: invalid YAML: month must be in 1..12",
        "- a\n": "config.yml: the top level must be a mapping of sections, not list",
        "server: {workers: 0}\n": "server.workers: must be >= 1",
    }
    for text, problem in broken.items():
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_config(path, env={})
        assert (info.value.problems, info.value.source) == ([problem], path.resolve())
    path.write_text("server: {workers: ${W}}\n", encoding="utf-8")
    assert load_config(path, env={"W": "3"}).server.workers == 3
    path.write_text("app: {greeting: ''}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path).load_app(AppSettings())
    assert info.value.source == path.resolve()


def test_a_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    """A config file in another encoding is one problem naming the file, not a traceback."""
    path = tmp_path / "config.yml"
    path.write_bytes(b"app: {greeting: caf\xe9}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [f"{path}: cannot read: not valid UTF-8 (byte 19)"]
    assert info.value.source == path


def test_missing_file(tmp_path: Path) -> None:
    """A missing file is one clear problem."""
    path = tmp_path / "nope.yml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems == [f"{path}: cannot read: No such file or directory"]
    assert info.value.source == path


def test_effective_masks_secrets() -> None:
    """The effective config masks auth values and redact_fields keys, nothing else."""
    hashed = hash_password("pw")
    text = (
        f"auth: {{basic: {{realm: r, users: {{alice: '{hashed}'}}}}}}\n"
        "app: {db: {password: hunter2, host: db.local}}\n"
    )
    effective = parse_config(text, env={}).effective()
    assert effective["auth"]["basic"]["users"] == {"alice": MASK}
    assert effective["app"]["db"] == {"password": MASK, "host": "db.local"}
    assert effective["server"]["workers"] == 2
    assert "hunter2" not in str(effective)
    assert hashed not in str(effective)


def test_effective_keeps_lists_and_masks_secrets_inside_them() -> None:
    """Lists stay lists; a secret list is masked item by item, and secrets in listed objects too."""
    text = (
        "server: {bind: ['127.0.0.1:1', '127.0.0.1:2']}\n"
        "cors: {allow_origins: ['https://a.example']}\n"
        "app: {token: [t1, t2], upstreams: [{host: u1, secret: s1}], ports: [1, 2]}\n"
    )
    effective = parse_config(text, env={}).effective()
    assert effective["server"]["bind"] == ["127.0.0.1:1", "127.0.0.1:2"]
    assert effective["server"]["admin_bind"] == "127.0.0.1:8081"
    assert effective["cors"]["allow_origins"] == ["https://a.example"]
    assert effective["app"] == {
        "token": [MASK, MASK],
        "upstreams": [{"host": "u1", "secret": MASK}],
        "ports": [1, 2],
    }
