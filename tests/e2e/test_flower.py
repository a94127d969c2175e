"""Flower, started by ``imagejobs flower``, shows the workers and the tasks they ran."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import Submit, wait_job
from tests.e2e.test_tasks import scene_a
from tests.services import REPO, WorkerProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def flower_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "FLOWER_UNAUTHENTICATED_API": "true"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "imagejobs", "flower", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
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
    tasks = poll(
        f"{flower_url}/api/tasks",
        lambda data: any(
            t.get("name") == "imagejobs.run_job" and job_id in str(t.get("args"))
            for t in data.values()
        ),
    )
    assert tasks
