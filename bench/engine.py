"""The serving engine against its peers: requests/s, p99, server CPU per request, ratios.

Starts, each with 2 workers on 127.0.0.1:

- ``service``: a service rendered by ``scaffold new``, served by ``scaffold run`` as
  rendered: access log on (stdout, sent to /dev/null), request ids, statsd on (a UDP
  socket this script drains in a process of its own);
- ``service-<form>``: the same service with its handlers in the other form (the template's
  plain ``def`` handlers made ``async def``, or the reverse);
- ``falcon-gthread``: bare Falcon (WSGI) on gunicorn's gthread worker, 4 threads;
- ``falcon-asgi``: bare Falcon ASGI on gunicorn's ``asgi`` worker (uvloop), ``async def``;
- ``fastapi-async`` and ``fastapi-def``: FastAPI on uvicorn (uvloop, httptools), with
  ``async def`` and with ``def`` endpoints.

Every server answers the same two endpoints: ``GET /v1/greetings/Ada`` and the validated
``POST /v1/greetings`` with ``{"name": "Ada", "language": "fr"}``. wrk drives each in turn,
GET then POST, for ``--rounds`` rounds (the order rotates every round, so every server
meets the machine in every state); a round's ratios compare runs minutes apart at most,
and the medians of those ratios are printed. Run it with the project's venv, with wrk
installed (Debian's ``wrk``) and the ``bench`` extra (FastAPI, uvicorn):

    .venv/bin/python bench/engine.py [--seconds 5] [--rounds 3] [--connections 32]
        [--wrk-threads 2] [--only NAME,NAME] [--markdown]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
GET_PATH = "/v1/greetings/Ada"
POST_PATH = "/v1/greetings"
POST_BODY = '{"name": "Ada", "language": "fr"}'
POST_LUA = f"""wrk.method = "POST"
wrk.body = '{POST_BODY}'
wrk.headers["Content-Type"] = "application/json"
"""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Run:
    """One wrk run against one server."""

    rps: float
    p99_ms: float
    requests: int
    errors: int
    cpu_us: float  # server CPU (master + workers) per request


@dataclass
class Server:
    """A server under test: how to start it and what was measured."""

    name: str
    command: list[str]
    cwd: Path
    env: dict[str, str]
    port: int
    runs: dict[str, list[Run]] = field(default_factory=lambda: {"GET": [], "POST": []})
    proc: subprocess.Popen[bytes] | None = None
    rss_mib: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited with {self.proc.returncode}")
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}{GET_PATH}", timeout=2)
                if len(self.workers()) >= 2:
                    return
            time.sleep(0.2)
        raise SystemExit(f"{self.name} did not answer within 60 s")

    def workers(self) -> list[int]:
        """The pids of the master's children (the workers)."""
        assert self.proc is not None
        found = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in found.stdout.split()]

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and its workers so far."""
        assert self.proc is not None
        total = 0.0
        for pid in [self.proc.pid, *self.workers()]:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        return total

    def worker_rss_mib(self) -> float:
        """The largest resident set of the workers, in MiB."""
        sizes = []
        for pid in self.workers():
            with contextlib.suppress(OSError):
                resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
                sizes.append(resident * PAGE_SIZE / 2**20)
        return max(sizes, default=0.0)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def drain(sock: socket.socket) -> None:
    """Read statsd datagrams until the socket stays quiet (a process of its own)."""
    sock.settimeout(600)
    with contextlib.suppress(OSError):
        while True:
            sock.recv(65535)


WRK_REQUESTS = re.compile(r"(\d+) requests in")
WRK_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
WRK_P99 = re.compile(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
WRK_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def run_wrk(server: Server, method: str, args: argparse.Namespace, lua: Path) -> Run:
    url = f"http://127.0.0.1:{server.port}{GET_PATH if method == 'GET' else POST_PATH}"
    command = [
        "wrk",
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{args.seconds}s",
        "--latency",
        url,
    ]
    if method == "POST":
        command[1:1] = ["-s", str(lua)]
    before = server.cpu_seconds()
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu = server.cpu_seconds() - before
    requests = int(WRK_REQUESTS.search(out).group(1))  # type: ignore[union-attr]
    p99_value, unit = WRK_P99.search(out).groups()  # type: ignore[union-attr]
    p99 = float(p99_value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = sum(int(n) for n in m.groups()) if (m := WRK_ERRORS.search(out)) else 0
    errors += int(m.group(1)) if (m := WRK_NON2XX.search(out)) else 0
    return Run(
        rps=float(WRK_RPS.search(out).group(1)),  # type: ignore[union-attr]
        p99_ms=p99,
        requests=requests,
        errors=errors,
        cpu_us=cpu / max(requests, 1) * 1e6,
    )


def render_service(workdir: Path, statsd_port: int, *, other_form: bool) -> tuple[Path, str]:
    """Render a service; point its statsd at ``statsd_port``; optionally flip the handlers."""
    name = "bench-other" if other_form else "bench-service"
    subprocess.run(
        [str(BIN / "scaffold"), "new", name, "--no-input", "--output-dir", str(workdir)],
        check=True,
        capture_output=True,
    )
    root = workdir / name
    config = root / "config.yml"
    text = config.read_text()
    statsd = f"metrics:\n  statsd:\n    host: 127.0.0.1\n    port: {statsd_port}\n"
    config.write_text(text.replace("metrics:\n", statsd, 1))
    resources = root / name.replace("-", "_") / "resources.py"
    source = resources.read_text()
    plain = "    def on_" in source
    form = "plain" if plain else "async"
    if other_form:
        if plain:
            source = source.replace("    def on_", "    async def on_")
        else:
            source = source.replace("    async def on_", "    def on_")
        resources.write_text(source)
        form = "async" if plain else "plain"
    return root, form


def build_servers(workdir: Path, statsd_port: int) -> list[Server]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    servers = []
    for other in (False, True):
        root, form = render_service(workdir, statsd_port, other_form=other)
        port = free_port()
        servers.append(
            Server(
                f"service-{form}" if other else "service",
                [
                    str(BIN / "scaffold"),
                    "run",
                    "--workers",
                    "2",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--admin-bind",
                    f"127.0.0.1:{free_port()}",
                ],
                root,
                env,
                port,
            )
        )
    peers = HERE / "peers"
    gunicorn = str(BIN / "gunicorn")
    for name, worker, app in (
        ("falcon-gthread", ["-k", "gthread", "--threads", "4"], "falcon_wsgi:app"),
        ("falcon-asgi", ["-k", "asgi"], "falcon_asgi:app"),
    ):
        port = free_port()
        command = [gunicorn, *worker, "-w", "2", "-b", f"127.0.0.1:{port}", app]
        servers.append(Server(name, command, peers, env, port))
    for mode in ("async", "def"):
        port = free_port()
        command = [
            str(BIN / "uvicorn"),
            "fastapi_app:app",
            "--workers",
            "2",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--no-access-log",
            "--log-level",
            "warning",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ]
        servers.append(
            Server(f"fastapi-{mode}", command, peers, {**env, "BENCH_FASTAPI_MODE": mode}, port)
        )
    return servers


@contextlib.contextmanager
def serving(servers: list[Server]) -> Iterator[None]:
    try:
        for server in servers:
            server.start()
        yield
    finally:
        for server in servers:
            server.stop()


def ratio(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f})"


def report(servers: list[Server], args: argparse.Namespace) -> str:
    by_name = {server.name: server for server in servers}
    lines = [
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs ({cpu_model()}), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}",
        f"load: wrk -t{args.wrk_threads} -c{args.connections}, {args.rounds} rounds x "
        f"{args.seconds} s per server and method, order rotated each round; 2 workers each",
        f"versions: {versions()}",
        "",
        "| server | GET req/s | GET p99 ms | GET CPU us/req | POST req/s | POST p99 ms "
        "| POST CPU us/req | worker RSS MiB | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for server in servers:
        cells = []
        for method in ("GET", "POST"):
            runs = server.runs[method]
            cells += [
                f"{statistics.median(r.rps for r in runs):,.0f}",
                f"{statistics.median(r.p99_ms for r in runs):.2f}",
                f"{statistics.median(r.cpu_us for r in runs):.0f}",
            ]
        errors = sum(r.errors for runs in server.runs.values() for r in runs)
        rss = f"{max(server.rss_mib):.1f}" if server.rss_mib else "-"
        lines.append(f"| {server.name} | {' | '.join(cells)} | {rss} | {errors} |")
    lines += ["", "Ratios (median of the per-round ratios, min-max):", ""]
    lines.append("| service | against | GET | POST |")
    lines.append("| --- | --- | --- | --- |")
    for mine in [s for s in servers if s.name.startswith("service")]:
        for peer in ("fastapi-async", "fastapi-def", "falcon-asgi", "falcon-gthread"):
            if peer not in by_name:
                continue
            cells = []
            for method in ("GET", "POST"):
                pairs = zip(mine.runs[method], by_name[peer].runs[method], strict=True)
                cells.append(ratio([a.rps / b.rps for a, b in pairs]))
            lines.append(f"| {mine.name} | {peer} | {cells[0]} | {cells[1]} |")
    if "service" in by_name and "fastapi-async" in by_name:
        service, fastapi = by_name["service"].runs["GET"], by_name["fastapi-async"].runs["GET"]
        p99 = [a.p99_ms / b.p99_ms for a, b in zip(service, fastapi, strict=True)]
        lines += ["", f"service GET p99 / fastapi-async GET p99: {ratio(p99)}"]
    return "\n".join(lines)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for dist in ("scaffold", "falcon", "gunicorn", "uvloop", "fastapi", "uvicorn", "pydantic"):
        with contextlib.suppress(PackageNotFoundError):
            out.append(f"{dist} {version(dist)}")
    return ", ".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--only", help="comma-separated server names")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is required (apt-get install wrk)")

    statsd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    statsd.bind(("127.0.0.1", 0))
    drainer = multiprocessing.Process(target=drain, args=(statsd,), daemon=True)
    drainer.start()
    workdir = Path(tempfile.mkdtemp(prefix="scaffold-engine-"))
    lua = workdir / "post.lua"
    lua.write_text(POST_LUA)
    servers = build_servers(workdir, statsd.getsockname()[1])
    if args.only:
        wanted = set(args.only.split(","))
        servers = [s for s in servers if s.name in wanted]

    with serving(servers):
        for round_number in range(args.rounds):
            shift = round_number % len(servers)
            for server in servers[shift:] + servers[:shift]:
                for method in ("GET", "POST"):
                    run = run_wrk(server, method, args, lua)
                    server.runs[method].append(run)
                    print(
                        f"round {round_number + 1} {server.name:<15} {method:<4} "
                        f"{run.rps:9,.0f} req/s  p99 {run.p99_ms:6.2f} ms  "
                        f"{run.cpu_us:5.0f} us CPU/req  errors {run.errors}",
                        flush=True,
                    )
                server.rss_mib.append(server.worker_rss_mib())
    drainer.terminate()
    print()
    print(report(servers, args))


if __name__ == "__main__":
    main()
