"""The admin port: ping, health, readiness, metrics, threads and tasks."""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import pstats
import re
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from falcon import testing

from scaffold.runtime import DefinitionError, HealthResult, Service, TaskError, parse_config
from scaffold.runtime.admin._profile import profile_seconds
from scaffold.runtime.server._arbiter import SharedFlag
from scaffold.runtime.testing import admin_client

PROBLEM = "application/problem+json"


@pytest.fixture
def service() -> Service:
    return Service("acme", parse_config("logging:\n  access_log: null\n", env={}))


def test_ping(service):
    """/ping answers pong as text."""
    result = admin_client(service).simulate_get("/ping")
    assert result.status_code == 200
    assert result.text == "pong"
    assert result.headers["content-type"].startswith("text/plain")


def test_healthcheck_all_healthy(service):
    """200 with one entry per check: healthy, message, duration_ms."""
    service.add_health_check("db", lambda: HealthResult.ok("3 connections"))
    service.add_health_check("cache", lambda: True, critical=False)
    result = admin_client(service).simulate_get("/healthcheck")
    assert result.status_code == 200
    assert set(result.json) == {"db", "cache"}
    assert result.json["db"]["healthy"] is True
    assert result.json["db"]["message"] == "3 connections"
    assert isinstance(result.json["db"]["duration_ms"], float)
    assert result.json["cache"]["healthy"] is True
    assert result.json["cache"]["message"] is None


def test_raising_and_slow_checks_are_unhealthy_not_500(service):
    """A check that raises or overruns its timeout is unhealthy; the endpoint answers 503."""

    def broken() -> bool:
        raise ConnectionError("db down")

    def slow() -> bool:
        time.sleep(0.5)
        return True

    service.add_health_check("broken", broken)
    service.add_health_check("slow", slow, timeout=0.05)
    result = admin_client(service).simulate_get("/healthcheck")
    assert result.status_code == 503
    assert result.json["broken"]["healthy"] is False
    assert "db down" in result.json["broken"]["message"]
    assert result.json["slow"]["healthy"] is False
    assert "timed out" in result.json["slow"]["message"]


def test_ready_follows_critical_checks_and_draining(service):
    """Readiness fails for a critical check or while draining; a non-critical one is ignored."""
    admin = admin_client(service)
    service.add_health_check("optional", lambda: False, critical=False)
    assert admin.simulate_get("/health/ready").status_code == 200
    draining = SharedFlag()  # what the gunicorn master raises on SIGTERM
    service.lifecycle.follow(draining)
    assert admin.simulate_get("/health/ready").status_code == 200
    draining.set()
    result = admin.simulate_get("/health/ready")
    assert result.status_code == 503
    assert result.json["reason"] == "draining"
    assert admin.simulate_get("/health/live").status_code == 200


def test_ready_fails_for_critical_check(service):
    """A failing critical check makes readiness 503 and names it."""
    service.add_health_check("db", lambda: HealthResult.fail("down"))
    result = admin_client(service).simulate_get("/health/ready")
    assert result.status_code == 503
    assert result.json["failed_checks"] == ["db"]


def test_threads_lists_every_thread(service):
    """/threads is text/plain with a stack per thread."""
    result = admin_client(service).simulate_get("/threads")
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/plain")
    assert '"MainThread"' in result.text
    assert "test_threads_lists_every_thread" in result.text


# Threads parked in fresh frames (which /threads must turn into frame objects), a collector
# that runs at every allocation, and a collection callback that needs the interpreter's
# thread-list lock, as a finalizer joining a thread does. A process of its own: on a
# deadlock it is killed by its pid at the timeout, not left hanging the suite.
THREADS_UNDER_GC = textwrap.dedent(
    """
    import gc, sys, threading
    from scaffold.runtime import Service, parse_config
    from scaffold.runtime.testing import admin_client

    release = threading.Event()
    parked = [threading.Thread(target=lambda: release.wait(), daemon=True) for _ in range(8)]
    for thread in parked:
        thread.start()
    app = admin_client(Service("acme", parse_config("logging: {access_log: null}", env={})))
    gc.callbacks.append(lambda phase, info: sys._current_frames())
    gc.set_threshold(1)
    print(app.simulate_get("/threads").status_code)
    release.set()
    """
)


def test_threads_never_hangs_when_a_collection_would_start_inside_it():
    """A collection starting while /threads holds the thread list cannot hang the worker.

    On Python 3.11 it did (CPython gh-106883): this process hung until killed.
    """
    done = subprocess.run(
        [sys.executable, "-c", THREADS_UNDER_GC], capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout.strip()) == (0, "200"), done.stderr


def test_tasks_list(service):
    """/tasks lists built-in and added tasks, sorted."""
    service.add_task("flush-cache", lambda params: None, description="Empty the cache.")
    tasks = admin_client(service).simulate_get("/tasks").json["tasks"]
    assert [t["name"] for t in tasks] == ["flush-cache", "gc", "log-level", "profile"]
    assert tasks[0] == {
        "name": "flush-cache",
        "method": "POST",
        "path": "/tasks/flush-cache",
        "description": "Empty the cache.",
    }


def test_gc_task(service):
    """POST /tasks/gc collects and says which worker did."""
    result = admin_client(service).simulate_post("/tasks/gc")
    assert result.status_code == 200
    assert result.json["task"] == "gc"
    assert isinstance(result.json["result"]["collected"], int)
    assert isinstance(result.json["pid"], int)


def test_get_on_task_is_405_and_unknown_task_404(service):
    """Tasks are POST only; an unknown task is a problem+json 404."""
    admin = admin_client(service)
    result = admin.simulate_get("/tasks/gc")
    assert result.status_code == 405
    assert result.headers["allow"] == "OPTIONS, POST"
    assert result.headers["content-type"] == PROBLEM
    missing = admin.simulate_post("/tasks/nope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert missing.json["request_id"]


def test_log_level_task_sets_then_reverts(service):
    """log-level changes a logger for `duration` seconds, then restores it."""
    logger = logging.getLogger("acme.test.loglevel")
    logger.setLevel(logging.WARNING)
    result = admin_client(service).simulate_post(
        "/tasks/log-level",
        params={"logger": "acme.test.loglevel", "level": "debug", "duration": "0.2"},
    )
    assert result.status_code == 200
    assert result.json["result"] == {
        "logger": "acme.test.loglevel",
        "level": "DEBUG",
        "reverts_to": "WARNING",
        "reverts_in_seconds": 0.2,
    }
    assert logger.level == logging.DEBUG
    deadline = time.monotonic() + 3
    while logger.level != logging.WARNING and time.monotonic() < deadline:
        time.sleep(0.02)
    assert logger.level == logging.WARNING


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"level": "LOUD"},
        {"level": "INFO", "duration": "soon"},
        {"level": "INFO", "duration": "0"},
    ],
    ids=["no-level", "bad-level", "bad-duration", "zero-duration"],
)
def test_log_level_task_rejects_bad_input(service, params):
    """Bad parameters are a 400 in the problem+json envelope."""
    result = admin_client(service).simulate_post("/tasks/log-level", params=params)
    assert result.status_code == 400
    assert result.headers["content-type"] == PROBLEM
    assert result.json["detail"].startswith("task log-level: ")


def test_service_tasks(service):
    """A service's task gets the query parameters; TaskError becomes a 400."""

    def reindex(params):
        if "index" not in params:
            raise TaskError("index is required")
        return {"reindexed": params["index"]}

    service.add_task("reindex", reindex)
    admin = admin_client(service)
    ok = admin.simulate_post("/tasks/reindex", params={"index": "widgets"})
    assert ok.json["result"] == {"reindexed": "widgets"}
    assert admin.simulate_post("/tasks/reindex").status_code == 400
    with pytest.raises(DefinitionError, match="already registered"):
        service.add_task("reindex", reindex)
    with pytest.raises(DefinitionError, match="lowercase"):
        service.add_task("Bad Name", reindex)


def _square_sum() -> int:
    return sum(i * i for i in range(2000))


def _busy_thread(stop: threading.Event) -> None:
    """CPU work in a thread of its own: the profile must see it, not only the caller's thread."""
    while not stop.is_set():
        _square_sum()


def test_profile_task_returns_a_pstats_file_of_every_thread(service, tmp_path, local_time):
    """POST /tasks/profile?seconds=1 answers a pstats download that sees other threads' work.

    Python functions only (no builtins); the file is named by service, pid and UTC time.
    """
    local_time("XYZ+12")  # 12 hours behind UTC: a local time would show in the name
    stop = threading.Event()
    worker = threading.Thread(target=_busy_thread, args=(stop,), name="busy")
    worker.start()
    try:
        result = admin_client(service).simulate_post("/tasks/profile", params={"seconds": "1"})
    finally:
        stop.set()
        worker.join()
    assert result.status_code == 200
    assert result.headers["content-type"] == "application/octet-stream"
    disposition = result.headers["content-disposition"]
    named = re.fullmatch(
        rf'attachment; filename="{service.name}-{os.getpid()}-(\d{{8}}T\d{{6}})Z\.pstats"',
        disposition,
    )
    assert named, disposition
    stamp = datetime.datetime.strptime(named[1], "%Y%m%dT%H%M%S").replace(tzinfo=datetime.UTC)
    assert abs(datetime.datetime.now(datetime.UTC) - stamp) < datetime.timedelta(minutes=1)
    path = tmp_path / "profile.pstats"
    path.write_bytes(result.content)
    stats = pstats.Stats(str(path))
    functions = {name for (_, _, name) in stats.stats}  # type: ignore[attr-defined]
    assert "_square_sum" in functions
    assert "sum" not in functions  # the builtin _square_sum calls


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({}, "?seconds=N is required (1 to 60)"),
        ({"seconds": "0"}, "seconds must be 1 to 60, not 0"),
        ({"seconds": "61"}, "seconds must be 1 to 60, not 61"),
        ({"seconds": "1.5"}, "seconds must be a whole number of seconds, not '1.5'"),
        ({"seconds": "1", "clock": "gpu"}, "clock must be one of cpu, wall, not 'gpu'"),
    ],
    ids=["missing", "zero", "too-long", "fraction", "bad-clock"],
)
def test_profile_task_rejects_bad_parameters(service, params, problem):
    """seconds is a whole number 1-60 and clock cpu or wall; else 400, at once, saying why."""
    started = time.monotonic()
    result = admin_client(service).simulate_post("/tasks/profile", params=params)
    assert result.status_code == 400
    assert result.headers["content-type"] == "application/problem+json"
    assert result.json["detail"] == f"task profile: {problem}"
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("raw", ["1", "60"])
def test_a_profile_lasts_1_to_60_seconds_both_included(raw):
    """The bounds themselves are valid durations (a profile of 60 s is not run here)."""
    assert profile_seconds(raw) == int(raw)


def test_profile_task_is_post_only_and_one_at_a_time(service):
    """GET is 405; a second profile while one runs is 409."""
    assert admin_client(service).simulate_get("/tasks/profile").status_code == 405

    async def two_profiles() -> tuple[int, int, str]:
        async with testing.ASGIConductor(service.admin) as conductor:
            first = asyncio.create_task(
                conductor.simulate_post("/tasks/profile", params={"seconds": "2"})
            )
            await asyncio.sleep(0.5)
            second = await conductor.simulate_post("/tasks/profile", params={"seconds": "1"})
            return (await first).status_code, second.status_code, second.json["detail"]

    assert asyncio.run(two_profiles()) == (
        200,
        409,
        "A profile of this worker is already running.",
    )
