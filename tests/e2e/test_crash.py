"""A worker killed in the middle of a Gemini call: the job is not lost and ends exactly once."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from imagejobs.core.jobspec import JobSpec
from imagejobs.emulator import EmulatorServer
from imagejobs.runtime import Runtime
from imagejobs.settings import load_settings
from imagejobs.store.db import session_scope
from imagejobs.store.migrate import migrate
from imagejobs.store.models import Job, JobResult
from imagejobs.submission import ImageInput, submit_job
from tests.e2e.test_tasks import scene_a
from tests.services import WorkerProcess, claim_redis_db, fresh_database

pytestmark = pytest.mark.slow


def test_killed_worker_job_is_taken_over_after_its_lease(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    # Its own database and broker, so no other worker of the test run can pick the job up.
    database = fresh_database("crash")
    migrate(database)
    broker = claim_redis_db()
    env = {
        "IMAGEJOBS_DATABASE_URL": database,
        "IMAGEJOBS_BROKER_URL": broker,
        "IMAGEJOBS_BLOB_DIR": str(tmp_path / "blobs"),
        "IMAGEJOBS_GEMINI_BASE_URL": emulator.base_url,
        "IMAGEJOBS_LEASE_S": "3",
        "IMAGEJOBS_SWEEP_INTERVAL_S": "0.5",
    }
    settings = load_settings(database_url=database, broker_url=broker, blob_dir=tmp_path / "blobs")
    emulator.control.set_faults(latency_s=30)
    first = WorkerProcess(env, tmp_path / "first.log", concurrency=2)
    first.start()
    job_id = submit_job(
        Runtime.from_settings(settings),
        JobSpec(task="caption"),
        [ImageInput(data=scene_a().encode("PNG"))],
        enqueue=False,  # the worker's sweeper sends it, on this test's own broker
    ).job_id
    deadline = time.monotonic() + 30
    while emulator.control.stats()["in_flight"] < 1:
        assert time.monotonic() < deadline, first.log()
        time.sleep(0.1)

    assert first.proc is not None
    os.kill(first.proc.pid, signal.SIGKILL)  # no warm shutdown, no ack: a lost machine
    first.proc.wait()
    emulator.control.set_faults(latency_s=0)
    second = WorkerProcess(env, tmp_path / "second.log", concurrency=2)
    second.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            with session_scope(database) as session:
                job = session.get(Job, job_id)
                assert job is not None
                if job.status in ("succeeded", "failed"):
                    results = session.scalar(
                        select(func.count())
                        .select_from(JobResult)
                        .where(JobResult.job_id == job_id)
                    )
                    break
            assert time.monotonic() < deadline, second.log()
            time.sleep(0.2)
    finally:
        second.stop()
    assert job.status == "succeeded", job.error_message
    assert job.attempts == 2  # the killed attempt, then the one that took over the lease
    assert results == 1
    assert emulator.control.stats()["calls"]["generateContent"] == 2
