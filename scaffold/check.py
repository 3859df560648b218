"""``scaffold check``: validate a service's config and factory without opening ports."""

from __future__ import annotations

from pathlib import Path

import yaml

from scaffold.loader import ServiceLoader, config_problems, load_service
from scaffold.runtime.tls import listener_contexts


def check_service(config_file: Path | None = None) -> str:
    """Validate the config, its TLS files and the service built from it; return masked YAML.

    Raises:
        InvalidConfigError: One line per problem, each naming its dotted key.
        ServiceLoadError: The service's factory cannot be imported or fails.
    """
    loader = ServiceLoader.find(config_file)
    with config_problems():
        config = loader.load_config()
        tls = listener_contexts(config.server)
    service = load_service(loader, config)
    header = (
        f"# {loader.config_path}: valid; {len(service.routes())} route(s), "
        f"{len(service.health.names)} health check(s); secrets masked\n"
    )
    warnings = "".join(f"# warning: {line}\n" for line in tls.warnings)
    body = yaml.safe_dump(config.effective(mask_secrets=True), sort_keys=False)
    return header + warnings + body
