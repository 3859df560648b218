"""scaffold: one production-ready structure for Python web services."""

# The one home of the version: the build reads it from here (pyproject's [tool.hatch.version]),
# and nothing reads package metadata at import time, which would cost `scaffold --help` ~60 ms.
__version__ = "0.1.0"

__all__ = ["__version__"]
