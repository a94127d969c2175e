"""The job runner in this process against real Postgres and the emulator, when the database drops
the connection of the very write that ends a job, or of a read right after the claim
(``pg_terminate_backend`` at that statement), and when a job's stored image is missing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, func, select, update

from imagejobs.core.jobspec import JobSpec
from imagejobs.emulator import EmulatorServer
from imagejobs.execution.runner import Ended, run_job
from imagejobs.runtime import Runtime, build_gemini
from imagejobs.settings import load_settings
from imagejobs.store.blobs import DirectoryBlobStore
from imagejobs.store.claims import claim_job
from imagejobs.store.db import get_engine, session_scope
from imagejobs.store.migrate import migrate
from imagejobs.store.models import Job, JobImage, JobResult, utcnow
from imagejobs.submission import ImageInput, submit_job
from tests.e2e.test_tasks import scene_a
from tests.services import PG_ADMIN, fresh_database


@pytest.fixture(scope="module")
def runner_db() -> str:
    """This module's own database: jobs the tests leave queued or parked must not be picked up
    by the suite's worker process (which sweeps the shared test database)."""
    url = fresh_database("runner_outages")
    migrate(url)
    return url


@pytest.fixture
def runtime(runner_db: str, emulator: EmulatorServer, tmp_path: Path) -> Runtime:
    emulator.control.reset()
    settings = load_settings(
        database_url=runner_db,
        gemini_base_url=emulator.base_url,
        blob_dir=tmp_path / "blobs",
        lease_s=5,
    )
    runtime = Runtime.from_settings(settings, gemini=build_gemini(settings))
    runtime.owner = "runner-under-test"
    return runtime


def new_job(runtime: Runtime) -> str:
    return submit_job(
        runtime,
        JobSpec(task="caption"),
        [ImageInput(data=scene_a().encode("PNG"))],
        enqueue=False,
    ).job_id


@dataclass
class BackendKiller:
    """Terminates the server process of the connection that is about to run a matching
    statement, ``times`` times: the statement then fails as in a database restart."""

    statement: str | tuple[str, ...]  # what the statement starts with
    params: dict[str, Any]
    times: int
    killed: int = 0
    then: list[Any] = field(default_factory=list)  # called after each kill

    def __call__(self, _conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if self.killed >= self.times or not statement.startswith(self.statement):
            return
        if not isinstance(params, dict) or any(params.get(k) != v for k, v in self.params.items()):
            return
        self.killed += 1
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(%s, 5000)", [cursor.connection.info.backend_pid]
            )
        for step in self.then:
            step()


@pytest.fixture
def kill_backends(runner_db: str) -> Iterator[list[BackendKiller]]:
    engine = get_engine(runner_db)
    killers: list[BackendKiller] = []

    def hook(*args: Any) -> None:
        for killer in killers:
            killer(*args)

    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield killers
    finally:
        event.remove(engine, "before_cursor_execute", hook)


# The write ending a job: the guarded UPDATE, or on Postgres the statement that has it first.
FINISH = ("UPDATE jobs SET status=", "WITH finished AS")
EXTEND = "UPDATE jobs SET lease_expires_at="


def results(runner_db: str, job_id: str) -> int:
    with session_scope(runner_db) as session:
        count = session.scalar(
            select(func.count()).select_from(JobResult).where(JobResult.job_id == job_id)
        )
    return int(count or 0)


def assert_succeeded_once(
    ended: Ended, emulator: EmulatorServer, runner_db: str, job_id: str
) -> None:
    """The job succeeded at its first attempt, with one Gemini call and one result set."""
    assert ended.status == "succeeded"
    assert emulator.control.stats()["calls"]["generateContent"] == 1
    assert results(runner_db, job_id) == 1
    with session_scope(runner_db) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == "succeeded" and job.attempts == 1


def test_finishing_write_survives_a_dropped_connection_without_a_second_gemini_call(
    runtime: Runtime,
    runner_db: str,
    emulator: EmulatorServer,
    kill_backends: list[BackendKiller],
) -> None:
    job_id = new_job(runtime)
    finish = BackendKiller(FINISH, {"status": "succeeded"}, times=3)
    extend = BackendKiller(EXTEND, {}, times=1)  # the lease extension while waiting fails too
    kill_backends.extend([finish, extend])

    ended = run_job(runtime, job_id)

    assert (finish.killed, extend.killed) == (3, 1)
    assert_succeeded_once(ended, emulator, runner_db, job_id)


def test_outcome_is_dropped_when_another_worker_took_the_lease_meanwhile(
    runtime: Runtime,
    runner_db: str,
    emulator: EmulatorServer,
    kill_backends: list[BackendKiller],
) -> None:
    job_id = new_job(runtime)

    def lease_expires_and_another_worker_claims() -> None:
        with session_scope(runner_db) as session:
            session.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=utcnow()))
        with session_scope(runner_db) as session:
            assert claim_job(session, job_id, "other-worker", lease_s=60) is not None

    finish = BackendKiller(FINISH, {"status": "succeeded"}, times=1)
    finish.then.append(lease_expires_and_another_worker_claims)
    kill_backends.append(finish)

    ended = run_job(runtime, job_id)

    assert ended.status == "lease_lost"
    assert results(runner_db, job_id) == 0  # the new owner's run writes the results
    with session_scope(runner_db) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == "running" and job.lease_owner == "other-worker"


def test_missing_stored_image_fails_the_job_at_once_naming_it(
    runtime: Runtime, runner_db: str, emulator: EmulatorServer
) -> None:
    job_id = new_job(runtime)
    with session_scope(runner_db) as session:
        sha = session.scalar(select(JobImage.sha256).where(JobImage.job_id == job_id))
    blobs = runtime.blobs
    assert isinstance(blobs, DirectoryBlobStore) and sha is not None
    blobs.path(sha).unlink()  # the blob folder lost it (or the API wrote elsewhere)

    ended = run_job(runtime, job_id)

    assert ended.status == "failed"
    assert ended.error is not None
    code, message = ended.error
    assert code == "image_blob_missing"
    assert message.startswith("image 1: ") and "sha256" in message
    assert str(blobs.root) not in message  # no server paths for the producer
    assert sha in message
    assert emulator.control.stats()["calls"].get("generateContent", 0) == 0
    with session_scope(runner_db) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.attempts == 1 and job.error_code == "image_blob_missing"


# What the claim leads to writing right after it: the job.started event's outbox row.
STARTED_EVENT = "SELECT webhook_deliveries.id"


def test_a_dropped_connection_right_after_the_claim_does_not_strand_the_job(
    runtime: Runtime,
    runner_db: str,
    emulator: EmulatorServer,
    kill_backends: list[BackendKiller],
) -> None:
    """The claim is committed; the reads it leads to lose their connection (a restart just
    then). They are tried again while the lease is held, instead of ending the message with the
    job left running under this worker's lease until it expires."""
    job_id = submit_job(
        runtime,
        JobSpec(
            task="caption",
            webhook_url="http://127.0.0.1:9/hook",
            webhook_events=["job.started", "job.succeeded"],
        ),
        [ImageInput(data=scene_a().encode("PNG"))],
        enqueue=False,
    ).job_id
    started = BackendKiller(STARTED_EVENT, {}, times=2)
    kill_backends.append(started)

    ended = run_job(runtime, job_id)

    assert started.killed == 2
    assert_succeeded_once(ended, emulator, runner_db, job_id)
