"""The systemd deployment: socket activation really serves, and the units pass systemd's checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from serving import BIN, free_port, request

pytestmark = pytest.mark.e2e


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is required (Debian package systemd; .ci/run installs it)")
    return path


def test_socket_activation_serves_app_and_admin_by_order(service_root: Path) -> None:
    """With sockets passed by systemd (LISTEN_FDS), the first is the app, the second the admin."""
    activate = require("systemd-socket-activate")
    app_port, admin_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACME_WIDGETS_")}
    proc = subprocess.Popen(
        [
            activate,
            "-l",
            f"127.0.0.1:{app_port}",
            "-l",
            f"127.0.0.1:{admin_port}",
            str(BIN / "scaffold"),
            "run",
            "--workers",
            "1",
        ],
        cwd=service_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 20
        while f"Listening on 127.0.0.1:{admin_port}" not in "".join(output):
            assert time.monotonic() < deadline, "".join(output)
            time.sleep(0.05)
        # The first connection makes systemd-socket-activate exec scaffold; it waits in the
        # kernel's accept queue meanwhile, so no request is lost.
        status, _, body = request(("127.0.0.1", app_port), "GET", "/v1/greetings/Ada", timeout=30)
        assert (status, json.loads(body)["greeting"]) == (200, "Hello, Ada!")
        assert request(("127.0.0.1", admin_port), "GET", "/ping")[2] == b"pong"
        assert request(("127.0.0.1", app_port), "GET", "/ping")[0] == 404
    finally:
        proc.terminate()
        proc.wait(20)
        reader.join(5)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == 0
    text = "".join(output)
    assert f"app listening on http://127.0.0.1:{app_port}" in text
    assert f"admin listening on http://127.0.0.1:{admin_port}" in text


def test_units_pass_systemd_analyze(service_root: Path, tmp_path: Path) -> None:
    """systemd-analyze finds nothing wrong with the units but the not-yet-installed venv."""
    analyze = require("systemd-analyze")
    units = tmp_path / "units"
    shutil.copytree(service_root / "deploy" / "systemd", units)
    result = subprocess.run(
        [
            analyze,
            "verify",
            str(units / "acme-widgets.socket"),
            str(units / "acme-widgets.service"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    complaints = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "/opt/acme-widgets/venv/bin/scaffold is not executable" not in line
    ]
    assert complaints == []


def test_socket_unit_matches_config_order(service_root: Path) -> None:
    """The socket unit lists the app address before the admin address, as config.yml does."""
    unit = (service_root / "deploy/systemd/acme-widgets.socket").read_text()
    streams = [
        line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("ListenStream=")
    ]
    assert streams == ["127.0.0.1:8080", "127.0.0.1:8081"]


def test_master_tells_systemd_it_is_ready(serve, tmp_path: Path) -> None:
    """With NOTIFY_SOCKET set (Type=notify), the master sends READY=1 once it listens."""
    import socket

    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(path))
        notify.settimeout(20)
        server = serve("--workers", "1", env={"NOTIFY_SOCKET": str(path)})
        message = notify.recv(4096).decode()
    assert "READY=1" in message.split("\n")
    assert request(server.app, "GET", "/v1/greetings/Ada")[0] == 200
