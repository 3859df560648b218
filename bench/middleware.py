"""What the runtime's middleware costs per request, in process (no network, no server).

Calls three ASGI apps directly, the way gunicorn's worker does, on a uvloop event loop:

- ``bare``: a ``falcon.asgi.App`` with the route and nothing else;
- ``quiet``: a :class:`scaffold.runtime.Service` with the same route, access log and
  statsd off (request id, limits, router, error envelope and media handlers remain);
- ``observed``: the same service with the Apache access log (a file) and statsd (a real
  UDP socket on 127.0.0.1, drained by another process: a thread here would fight the loop
  for the GIL at every datagram) on, both buffered as in a worker.

The responder is the same ``async def`` in all three, so the differences are the
runtime's own cost (Prometheus metrics included, in the multiprocess mode a worker uses),
in CPU time of the calling thread (what the machine's other load
changes least). Rounds alternate between the apps; the medians and the per-request
differences are printed. Run it with the project's venv:

    .venv/bin/python bench/middleware.py [--requests 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# As under `scaffold run`: each worker writes its Prometheus metrics to files of a folder the
# master made, which prometheus_client picks at its first import.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="bench-metrics-"))

import falcon
import falcon.asgi
import uvloop

from scaffold.runtime import Service, parse_config


class Greeting:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, name: str) -> None:
        resp.media = {"greeting": f"Hello, {name}!", "language": "en"}


SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/v1/greetings/Ada",
    "raw_path": b"/v1/greetings/Ada",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"host", b"127.0.0.1:8080"), (b"user-agent", b"bench/1.0")],
    "server": ("127.0.0.1", 8080),
    "client": ("127.0.0.1", 50000),
}
EVENT = {"type": "http.request", "body": b"", "more_body": False}


async def receive() -> dict[str, Any]:
    return EVENT


async def send(message: dict[str, Any]) -> None:
    pass


def drain(sock: socket.socket, counter: Any) -> None:
    """Read datagrams until the socket closes (in a process of its own)."""
    sock.settimeout(2.0)
    while True:
        try:
            sock.recv(65535)
        except OSError:
            return
        with counter.get_lock():
            counter.value += 1


async def per_request_us(app: Any, requests: int) -> float:
    """CPU time of this thread per request, in microseconds (immune to waiting on others)."""
    started = time.thread_time()
    for _ in range(requests):
        await app(dict(SCOPE), receive, send)
    return (time.thread_time() - started) / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    statsd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    statsd.bind(("127.0.0.1", 0))
    received = multiprocessing.Value("q", 0)
    drainer = multiprocessing.Process(target=drain, args=(statsd, received), daemon=True)
    drainer.start()
    workdir = Path(tempfile.mkdtemp(prefix="scaffold-bench-"))

    bare = falcon.asgi.App()
    bare.add_route("/v1/greetings/{name}", Greeting())
    quiet = Service("bench", parse_config("logging: {access_log: null}", env={}))
    quiet.add_route("/v1/greetings/{name}", Greeting())
    observed = Service(
        "bench",
        parse_config(
            f"logging: {{access_log: {workdir / 'access.log'}}}\n"
            f"metrics: {{statsd: {{host: 127.0.0.1, port: {statsd.getsockname()[1]}}}}}\n",
            env={},
        ),
    )
    observed.add_route("/v1/greetings/{name}", Greeting())
    observed.buffer_output()  # as a worker does; flushed after each round, as once a second
    apps = {"bare": bare, "quiet": quiet.app, "observed": observed.app}

    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    results: dict[str, list[float]] = {name: [] for name in apps}
    for app in apps.values():  # warm-up: route compilation, caches
        loop.run_until_complete(per_request_us(app, 2000))
    for round_number in range(args.rounds):
        order = list(apps.items())
        if round_number % 2:
            order.reverse()
        for name, app in order:
            results[name].append(loop.run_until_complete(per_request_us(app, args.requests)))
        observed.flush()
    lines = (workdir / "access.log").read_text().count("\n")
    drainer.join(5)

    print(f"python {sys.version.split()[0]}, falcon {falcon.__version__}, uvloop event loop")
    print(f"{args.rounds} rounds x {args.requests} requests per app, alternating")
    median = {name: statistics.median(values) for name, values in results.items()}
    for name, values in results.items():
        shown = ", ".join(f"{v:.1f}" for v in values)
        print(f"  {name:<9} median {median[name]:6.1f} us CPU/request  ({shown})")
    print(f"service runtime, logs and metrics off: +{median['quiet'] - median['bare']:.1f} us")
    observe = median["observed"] - median["quiet"]
    print(f"access log + statsd + per-route metrics: +{observe:.1f} us")
    print(
        f"request id + access log + metrics + limits over bare falcon: "
        f"+{median['observed'] - median['bare']:.1f} us"
    )
    print(f"(access log lines written: {lines}, statsd datagrams received: {received.value})")


if __name__ == "__main__":
    main()
