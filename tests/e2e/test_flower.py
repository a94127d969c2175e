"""Flower, started by ``imagejobs flower``, shows the workers and the tasks they ran."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from imagejobs.emulator import EmulatorServer
from tests.e2e.conftest import Submit, wait_job
from tests.e2e.test_tasks import scene_a
from tests.services import REPO, WorkerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def flower_url(worker: WorkerProcess) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "FLOWER_UNAUTHENTICATED_API": "true"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "flower", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # Up, and listening to the workers (a task run before that is not in its list).
        poll(f"{url}/api/workers?refresh=1", lambda data: any(w in data for w in worker.nodes))
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def poll(url: str, ok: object, timeout_s: float = 30.0) -> object:
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url, timeout=5).json()
            if ok(last):  # type: ignore[operator]
                return last
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} never showed what was expected; last answer: {last}")


def test_flower_shows_workers_and_tasks(
    flower_url: str, submit: Submit, worker: WorkerProcess
) -> None:
    workers = poll(
        f"{flower_url}/api/workers?refresh=1",
        lambda data: set(worker.nodes) <= set(data),
    )
    assert workers
    job_id = submit([scene_a().encode("PNG")], task="caption")
    assert wait_job(job_id)["status"] == "succeeded"
    task = task_of(flower_url, job_id, lambda t: t.get("state") == "SUCCESS")
    assert task["name"] == "imagejobs.run_job caption"  # the task list names the job's kind
    assert task["kwargs"] == str({"job_id": job_id})  # ... and shows its id


def task_of(flower_url: str, job_id: str, ok: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Flower's view of the run_job task of ``job_id``, once ``ok`` holds for it."""

    def found(data: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
        return next((t for t in data.values() if job_id in str(t.get("kwargs")) and ok(t)), None)

    tasks = poll(f"{flower_url}/api/tasks", lambda data: found(data) is not None)
    task = found(tasks)  # type: ignore[arg-type]
    assert task is not None
    return task


def test_a_failed_job_is_a_failed_task_with_its_error_code(
    flower_url: str, submit: Submit, emulator: EmulatorServer, worker: WorkerProcess
) -> None:
    emulator.control.script(
        [{"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "Bad image."}}]
    )
    job_id = submit([scene_a().encode("PNG")], task="detect")
    assert wait_job(job_id)["error"]["code"] == "gemini_400"
    task = task_of(flower_url, job_id, lambda t: t.get("state") in ("FAILURE", "SUCCESS"))
    assert task["state"] == "FAILURE"  # not SUCCESS: Flower counts it as failed
    assert task["name"] == "imagejobs.run_job detect"
    assert task["exception"].startswith("JobFailed('gemini_400: ")
    assert "Bad image." in task["exception"]
    assert task["retries"] == 0, (task, worker.log()[-4000:])
    time.sleep(1.0)  # a retry or a redelivery would show as a second task or a retry count
    tasks = httpx.get(f"{flower_url}/api/tasks", timeout=5).json()
    runs = [t for t in tasks.values() if job_id in str(t.get("kwargs"))]
    assert [(t["state"], t["retries"]) for t in runs] == [("FAILURE", 0)]
    assert emulator.control.stats()["calls"]["generateContent"] == 1
