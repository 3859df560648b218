"""TLS for the listeners: Mozilla's *modern* and *intermediate* profiles, mutual TLS.

``server.tls`` serves the app listeners and ``server.admin_tls`` the admin listeners, each
with a context of its own, so probes and operators reach the admin port without a client
certificate even when the app port requires one.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass

from scaffold.runtime.config_schema import ServerConfig, TLSConfig
from scaffold.runtime.exceptions import ConfigError

# Mozilla "intermediate" (v5.7) TLS 1.2 cipher suites; TLS 1.3 suites are not configurable here.
INTERMEDIATE_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-CHACHA20-POLY1305",
    ]
)


ECDH_CURVE = "prime256v1"


def apply_profile(context: ssl.SSLContext, tls: TLSConfig) -> ssl.SSLContext:
    """Restrict ``context`` to ``tls.profile`` and require client certificates if asked."""
    if tls.profile == "modern":
        context.minimum_version = ssl.TLSVersion.TLSv1_3
    else:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(INTERMEDIATE_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION
    # Key exchange on P-256 only: OpenSSL's default list also offers X448 and secp521r1,
    # which neither Mozilla profile allows, and Python's ssl sets one curve, not a list.
    # Every TLS client offers P-256.
    context.set_ecdh_curve(ECDH_CURVE)
    if tls.client_ca:
        context.load_verify_locations(cafile=tls.client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


EXPIRY_WARNING_DAYS = 14
"""A certificate that expires within this many days is worth a warning (not yet an error)."""


@dataclass(frozen=True)
class ListenerTLS:
    """The TLS contexts of the app and admin listeners, and what is worth a warning."""

    app: ssl.SSLContext | None
    admin: ssl.SSLContext | None
    warnings: tuple[str, ...] = ()


def _unreadable(path: str) -> str | None:
    try:
        with open(path, "rb"):
            return None
    except OSError as ex:
        return f"cannot read {path}: {ex.strerror or ex}"


def _validity(certfile: str, key: str, now: float) -> tuple[list[str], list[str]]:
    """Problems and warnings about the dates of the first certificate in ``certfile``."""
    decode = getattr(ssl._ssl, "_test_decode_cert", None)  # type: ignore[attr-defined]
    if decode is None:  # not every Python has it; the handshake still checks nothing here
        return [], []
    try:
        info = decode(certfile)
        not_before = ssl.cert_time_to_seconds(info["notBefore"])
        not_after = ssl.cert_time_to_seconds(info["notAfter"])
    except (ssl.SSLError, KeyError, ValueError):
        return [], []
    if now < not_before:
        return [f"{key}.certfile: {certfile} is not valid before {info['notBefore']}"], []
    if now >= not_after:
        return [f"{key}.certfile: {certfile} expired on {info['notAfter']}"], []
    days = (not_after - now) / 86400
    if days < EXPIRY_WARNING_DAYS:
        return [], [f"{key}.certfile: {certfile} expires in {days:.1f} days ({info['notAfter']})"]
    return [], []


def server_context(
    tls: TLSConfig, key: str = "server.tls", *, now: float | None = None
) -> tuple[ssl.SSLContext, list[str]]:
    """A server-side context for ``tls`` (certificate, key, profile) and its warnings.

    Args:
        tls: The section.
        key: Its dotted config key, named in errors.
        now: The time to check the certificate's dates against (default: now).

    Raises:
        ConfigError: One line per problem, naming the key: a file missing or unreadable, a
            key that does not match the certificate, a certificate that is expired or not
            yet valid, a ``client_ca`` that holds no CA certificate.
    """
    problems = [
        f"{key}.{name}: {reason}"
        for name, path in (("certfile", tls.certfile), ("keyfile", tls.keyfile))
        if (reason := _unreadable(path)) is not None
    ]
    if problems:
        raise ConfigError(problems)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(tls.certfile, tls.keyfile)
    except ssl.SSLError as ex:
        if "KEY_VALUES_MISMATCH" in str(ex) or "key values mismatch" in str(ex):
            msg = f"{key}.keyfile: {tls.keyfile} does not match the certificate in {tls.certfile}"
        else:
            files = f"{tls.certfile} and {tls.keyfile}"
            msg = f"{key}.certfile: {files} are not a PEM certificate and key"
        raise ConfigError([msg]) from ex
    problems, warnings = _validity(tls.certfile, key, time.time() if now is None else now)
    if problems:
        raise ConfigError(problems)
    if tls.client_ca:
        _check_client_ca(tls.client_ca, key)
    return apply_profile(context, tls), warnings


def _check_client_ca(path: str, key: str) -> None:
    reason = _unreadable(path)
    if reason is not None:
        raise ConfigError([f"{key}.client_ca: {reason}"])
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        probe.load_verify_locations(cafile=path)
    except ssl.SSLError as ex:
        raise ConfigError([f"{key}.client_ca: cannot load {path}: {ex.reason or ex}"]) from ex
    if not probe.get_ca_certs():  # only certificates that may sign others are listed
        raise ConfigError([f"{key}.client_ca: {path} holds no CA certificate"])


def listener_contexts(server: ServerConfig, *, now: float | None = None) -> ListenerTLS:
    """The contexts of the app listeners (``server.tls``) and the admin ones (``admin_tls``).

    Raises:
        ConfigError: A certificate, key or client CA cannot be used (one line each).
    """
    problems: list[str] = []
    warnings: list[str] = []
    contexts: list[ssl.SSLContext | None] = []
    for key, tls in (("server.tls", server.tls), ("server.admin_tls", server.admin_tls)):
        if tls is None:
            contexts.append(None)
            continue
        try:
            context, found = server_context(tls, key, now=now)
        except ConfigError as ex:
            problems.extend(ex.problems)
            contexts.append(None)
            continue
        contexts.append(context)
        warnings.extend(found)
    if problems:
        raise ConfigError(problems)
    return ListenerTLS(contexts[0], contexts[1], tuple(warnings))
