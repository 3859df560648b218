"""TLS profiles for gunicorn's listeners (Mozilla's *modern* and *intermediate*)."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

from scaffold.runtime.config_schema import TLSConfig

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


def gunicorn_tls_settings(tls: TLSConfig) -> dict[str, Any]:
    """Gunicorn settings that serve every listener with ``tls``."""

    def ssl_context(conf: Any, default_ssl_context_factory: Callable[[], ssl.SSLContext]) -> Any:
        return apply_profile(default_ssl_context_factory(), tls)

    return {"certfile": tls.certfile, "keyfile": tls.keyfile, "ssl_context": ssl_context}
