"""The runtime every generated service imports: the only API services may rely on."""

from scaffold.runtime.admin import HealthResult, TaskError
from scaffold.runtime.config import Config, load_config, parse_config
from scaffold.runtime.errors import ValidationProblem
from scaffold.runtime.exceptions import ConfigError, DefinitionError, ServiceError
from scaffold.runtime.guards import guard
from scaffold.runtime.managed import Managed, ManagedStartError
from scaffold.runtime.observability import Counter, Gauge, MetricsRegistry, Timer, TraceParent
from scaffold.runtime.routing import RouteInfo
from scaffold.runtime.service import Namespace, Service
from scaffold.runtime.typed import typed

__all__ = [
    "Config",
    "ConfigError",
    "Counter",
    "DefinitionError",
    "Gauge",
    "HealthResult",
    "Managed",
    "ManagedStartError",
    "MetricsRegistry",
    "Namespace",
    "RouteInfo",
    "Service",
    "ServiceError",
    "TaskError",
    "Timer",
    "TraceParent",
    "ValidationProblem",
    "guard",
    "load_config",
    "parse_config",
    "typed",
]
