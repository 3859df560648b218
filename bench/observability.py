"""Measure what the access log, metrics and request id cost per request.

Serves ``bench/apps.py:baseline()`` and ``observed()`` with gunicorn (one gthread worker each,
on 127.0.0.1, OS-chosen ports), then alternates timed rounds against each with a keep-alive
Python load generator (one process per connection) and reports the medians and their ratio.
It also times both apps as plain WSGI calls in this process, which isolates the per-request
cost from the network and the load generator.

    .venv/bin/python bench/observability.py [--seconds 3] [--rounds 3] [--connections 4]
        [--load wrk|python]   (wrk, from Debian's package, when installed)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LISTENING = re.compile(rb"Listening at: http://127\.0\.0\.1:(\d+)")
PATH = "/v1/greetings/Ada"
REQUEST = f"GET {PATH} HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench/1.0\r\n\r\n".encode()


def start_server(factory: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start gunicorn serving ``apps:<factory>()``; return the process and its port."""
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen(
        [
            str(gunicorn),
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--log-level",
            "info",
            "--chdir",
            str(HERE),
            f"apps:{factory}()",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 20
    seen = b""
    os.set_blocking(proc.stderr.fileno(), False)
    while time.monotonic() < deadline:
        chunk = proc.stderr.read() or b""
        seen += chunk
        match = LISTENING.search(seen)
        if match:
            threading.Thread(target=_drain, args=(proc.stderr,), daemon=True).start()
            return proc, int(match.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"gunicorn {factory} did not start:\n{seen.decode(errors='replace')}")


def _drain(stream: Any) -> None:
    os.set_blocking(stream.fileno(), True)
    for _ in iter(lambda: stream.read(4096), b""):
        pass


def _client(port: int, seconds: float, results: Any) -> None:
    """One keep-alive connection sending requests back to back; put the count."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    count = 0
    buffer = b""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sock.sendall(REQUEST)
        while b"\r\n\r\n" not in buffer:
            buffer += sock.recv(65536)
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"unexpected response: {head[:80]!r}")
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
        while len(buffer) < length:
            buffer += sock.recv(65536)
        buffer = buffer[length:]
        count += 1
    sock.close()
    results.put(count)


def measure(port: int, seconds: float, connections: int) -> float:
    """Requests per second over ``connections`` concurrent keep-alive connections."""
    results: Any = multiprocessing.Queue()
    clients = [
        multiprocessing.Process(target=_client, args=(port, seconds, results))
        for _ in range(connections)
    ]
    started = time.perf_counter()
    for client in clients:
        client.start()
    total = sum(results.get(timeout=seconds + 30) for _ in clients)
    for client in clients:
        client.join()
    return total / (time.perf_counter() - started)


def measure_wrk(port: int, seconds: float, connections: int) -> float:
    """Requests per second measured by wrk (one thread: the server keeps the other core)."""
    result = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "-H",
            "User-Agent: bench/1.0",
            f"http://127.0.0.1:{port}{PATH}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", result.stdout)
    if errors:
        raise SystemExit(f"wrk saw errors:\n{result.stdout}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if match is None:
        raise SystemExit(f"cannot read wrk's output:\n{result.stdout}")
    return float(match.group(1))


def wsgi_rate(app: Callable[..., Any], n: int = 20000) -> float:
    """Plain WSGI calls per second to ``app`` in this process (no network)."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": PATH,
        "RAW_URI": PATH,
        "QUERY_STRING": "",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_USER_AGENT": "bench/1.0",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        return None

    def once() -> None:
        env = dict(environ)
        env["wsgi.input"] = BytesIO(b"")
        b"".join(app(env, start_response))

    for _ in range(500):
        once()
    started = time.perf_counter()
    for _ in range(n):
        once()
    return n / (time.perf_counter() - started)


def main() -> None:
    """Run the benchmark and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per app (alternating)")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections")
    parser.add_argument(
        "--load",
        choices=("wrk", "python"),
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator (default: wrk when installed)",
    )
    args = parser.parse_args()
    load = measure_wrk if args.load == "wrk" else measure

    with tempfile.TemporaryDirectory() as workdir:
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(0.5)
        received = [0]
        stop = threading.Event()

        def drain_statsd() -> None:
            while not stop.is_set():
                try:
                    sink.recv(65535)
                    received[0] += 1
                except TimeoutError:
                    pass

        threading.Thread(target=drain_statsd, daemon=True).start()
        env = {
            **os.environ,
            "BENCH_DIR": workdir,
            "BENCH_STATSD_PORT": str(sink.getsockname()[1]),
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        }

        # In-process WSGI first: the cost of the middleware alone.
        sys.path.insert(0, str(HERE))
        scratch = Path(workdir) / "in-process"
        scratch.mkdir()
        os.environ.update(BENCH_DIR=str(scratch), BENCH_STATSD_PORT=env["BENCH_STATSD_PORT"])
        import apps

        wsgi = {name: wsgi_rate(getattr(apps, name)()) for name in ("baseline", "observed")}

        servers = {name: start_server(name, env) for name in ("baseline", "observed")}
        rates: dict[str, list[float]] = {"baseline": [], "observed": []}
        try:
            for _, port in servers.values():
                load(port, 1.0, args.connections)  # warm up
            for _ in range(args.rounds):
                for name, (_, port) in servers.items():
                    rates[name].append(load(port, args.seconds, args.connections))
        finally:
            for proc, _ in servers.values():
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)
            stop.set()
        lines = (Path(workdir) / "access.log").read_text().count("\n")

    base, observed = (statistics.median(rates[n]) for n in ("baseline", "observed"))
    print(
        f"rounds: {args.rounds} x {args.seconds:g}s per app, {args.connections} connections,"
        f" load: {args.load}"
    )
    for name in ("baseline", "observed"):
        shown = ", ".join(f"{r:,.0f}" for r in rates[name])
        print(f"  {name:9} median {statistics.median(rates[name]):8,.0f} req/s  ({shown})")
    print(f"HTTP ratio observed/baseline: {observed / base:.3f}")
    print(f"  extra cost per request: {(1 / observed - 1 / base) * 1e6:.1f} us")
    print(f"  access log lines: {lines:,}; statsd datagrams received: {received[0]:,}")
    print(
        f"WSGI in-process: baseline {wsgi['baseline']:,.0f}/s, observed {wsgi['observed']:,.0f}/s,"
        f" ratio {wsgi['observed'] / wsgi['baseline']:.3f},"
        f" middleware cost {(1 / wsgi['observed'] - 1 / wsgi['baseline']) * 1e6:.1f} us/request"
    )


if __name__ == "__main__":
    main()
