"""TLS for the listeners: Mozilla's *modern* and *intermediate* profiles, mutual TLS.

``server.tls`` serves the app listeners and ``server.admin_tls`` the admin listeners, each
with a context of its own, so probes and operators reach the admin port without a client
certificate even when the app port requires one.
"""

from __future__ import annotations

import ssl

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


def apply_profile(context: ssl.SSLContext, tls: TLSConfig) -> ssl.SSLContext:
    """Restrict ``context`` to ``tls.profile`` and require client certificates if asked."""
    if tls.profile == "modern":
        context.minimum_version = ssl.TLSVersion.TLSv1_3
    else:
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(INTERMEDIATE_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION
    if tls.client_ca:
        context.load_verify_locations(cafile=tls.client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def server_context(tls: TLSConfig, key: str = "server.tls") -> ssl.SSLContext:
    """A server-side context for ``tls``: its certificate and key loaded, its profile applied.

    Args:
        tls: The section.
        key: Its dotted config key, named in errors.

    Raises:
        ConfigError: A file is missing or unreadable, or the key does not match the certificate.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(tls.certfile, tls.keyfile)
    except (OSError, ssl.SSLError) as ex:
        reason = getattr(ex, "strerror", None) or getattr(ex, "reason", None) or str(ex)
        msg = f"{key}: cannot load certfile {tls.certfile} with keyfile {tls.keyfile}: {reason}"
        raise ConfigError([msg]) from ex
    try:
        return apply_profile(context, tls)
    except (OSError, ssl.SSLError) as ex:
        reason = getattr(ex, "strerror", None) or getattr(ex, "reason", None) or str(ex)
        msg = f"{key}.client_ca: cannot load {tls.client_ca}: {reason}"
        raise ConfigError([msg]) from ex


def listener_contexts(server: ServerConfig) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None]:
    """The contexts of the app listeners (``server.tls``) and the admin ones (``admin_tls``).

    Raises:
        ConfigError: A certificate, key or client CA cannot be loaded (one line each).
    """
    problems: list[str] = []
    contexts: list[ssl.SSLContext | None] = []
    for key, tls in (("server.tls", server.tls), ("server.admin_tls", server.admin_tls)):
        try:
            contexts.append(server_context(tls, key) if tls is not None else None)
        except ConfigError as ex:
            problems.extend(ex.problems)
    if problems:
        raise ConfigError(problems)
    return contexts[0], contexts[1]
