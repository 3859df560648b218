"""scaffold: one production-ready structure for Python web services."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("scaffold")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["__version__"]
