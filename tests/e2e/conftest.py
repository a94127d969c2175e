"""End-to-end fixtures: the emulator in this process, a real Celery worker process on real
Postgres and Redis, and helpers to submit jobs and wait for them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from imagejobs.core.jobspec import JobSpec
from imagejobs.results.view import job_view
from imagejobs.runtime import Runtime
from imagejobs.settings import get_settings
from imagejobs.store.db import session_scope
from imagejobs.submission import ImageInput, submit_job
from tests.services import WorkerProcess

FINAL = ("succeeded", "failed", "canceled")


def wait_job(job_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    url = get_settings().effective_database_url
    deadline = time.monotonic() + timeout_s
    while True:
        with session_scope(url) as session:
            view = job_view(session, job_id)
        if view["status"] in FINAL:
            return view
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {view['status']} after {timeout_s} s: {view}")
        time.sleep(0.1)


Submit = Callable[..., str]


@pytest.fixture
def submit(worker: WorkerProcess) -> Submit:
    """Submit a job through the real submission path; returns its id."""
    runtime = Runtime.from_settings(get_settings())

    def _submit(images: list[bytes], **fields: Any) -> str:
        spec = JobSpec(**fields)
        inputs = [ImageInput(data=data, filename=f"img{i}") for i, data in enumerate(images)]
        return submit_job(runtime, spec, inputs).job_id

    return _submit


@pytest.fixture(autouse=True)
def _fresh_emulator(fresh_emulator: None) -> None:
    """Every end-to-end test starts with no faults, no script and zeroed stats."""
