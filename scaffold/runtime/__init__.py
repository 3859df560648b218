"""The runtime every generated service imports: the only API services may rely on."""

from scaffold.runtime.config import Config, load_config, parse_config
from scaffold.runtime.errors import ValidationProblem
from scaffold.runtime.exceptions import ConfigError, DefinitionError, ServiceError
from scaffold.runtime.health import HealthResult
from scaffold.runtime.service import Namespace, RouteInfo, Service
from scaffold.runtime.typed import typed

__all__ = [
    "Config",
    "ConfigError",
    "DefinitionError",
    "HealthResult",
    "Namespace",
    "RouteInfo",
    "Service",
    "ServiceError",
    "ValidationProblem",
    "load_config",
    "parse_config",
    "typed",
]
