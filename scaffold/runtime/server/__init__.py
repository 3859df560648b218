"""Serve a :class:`~scaffold.runtime.Service` under a gunicorn master, one event loop per worker.

gunicorn is the process manager (master, signals, HUP reload, socket activation); each
worker runs our subclass of gunicorn's ``asgi`` worker, which serves the app port and the
admin port from the listener that accepted each connection, with TLS per listener.
"""

from scaffold.runtime.server._application import ServeOptions, ServiceApplication
from scaffold.runtime.server._devloop import describe_failure
from scaffold.runtime.server._listeners import describe
from scaffold.runtime.server._worker import Worker

__all__ = ["ServeOptions", "ServiceApplication", "Worker", "describe", "describe_failure"]
