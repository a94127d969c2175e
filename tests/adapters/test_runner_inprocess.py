"""The runner in this process against real Postgres and the emulator (through the real
google-genai SDK), with a queue that records what would go to the broker instead of sending it
(as arq's burst worker and dramatiq's stub broker tests do): success, retry and park, permanent
failures, giving up, cancel, a second claim, a lost lease and a passed deadline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from imagejobs.broker.queue import JobQueue
from imagejobs.core.jobspec import JobSpec
from imagejobs.emulator import EmulatorServer
from imagejobs.execution.runner import run_job
from imagejobs.execution.sweeper import sweep_once
from imagejobs.runtime import Runtime, build_gemini
from imagejobs.settings import Settings, load_settings
from imagejobs.store.claims import claim_job
from imagejobs.store.db import get_engine, session_scope
from imagejobs.store.jobs import get_job, request_cancel
from imagejobs.store.migrate import migrate
from imagejobs.store.models import Job, JobImage, JobResult, Usage, WebhookDelivery, utcnow
from imagejobs.submission import ImageInput, submit_job
from tests.e2e.test_tasks import scene_a
from tests.services import fresh_database

HOOK = "http://127.0.0.1:9/hook"  # never called: deliveries are only recorded


@dataclass(frozen=True)
class SentJob:
    job_id: str
    kind: str | None
    countdown: float | None
    priority: int


class RecordingQueue(JobQueue):
    """A :class:`JobQueue` that records each message instead of sending it."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.jobs: list[SentJob] = []
        self.deliveries: list[str] = []

    def enqueue_job(
        self,
        job_id: str,
        *,
        kind: str | None = None,
        countdown: float | None = None,
        priority: int = 0,
    ) -> bool:
        self.jobs.append(SentJob(job_id, kind, countdown, priority))
        return True

    def enqueue_delivery(self, delivery_id: str, *, countdown: float | None = None) -> bool:
        self.deliveries.append(delivery_id)
        return True


def make_runtime(runner_db: str, emulator: EmulatorServer, tmp_path: Path, **over: Any) -> Runtime:
    settings = load_settings(
        database_url=runner_db,
        gemini_base_url=emulator.base_url,
        blob_dir=tmp_path / "blobs",
        lease_s=30,
        **over,
    )
    runtime = Runtime.from_settings(settings, gemini=build_gemini(settings))
    runtime.queue = RecordingQueue(settings)
    runtime.owner = "inprocess-runner"
    return runtime


@pytest.fixture(scope="module")
def runner_db() -> str:
    """This module's own database: jobs the tests leave queued or parked must not be picked up
    by the suite's worker process (which sweeps the shared test database)."""
    url = fresh_database("runner_inprocess")
    migrate(url)
    return url


@pytest.fixture
def runtime(runner_db: str, emulator: EmulatorServer, tmp_path: Path) -> Runtime:
    emulator.control.reset()
    return make_runtime(runner_db, emulator, tmp_path)


def queue_of(runtime: Runtime) -> RecordingQueue:
    assert isinstance(runtime.queue, RecordingQueue)
    return runtime.queue


def new_job(runtime: Runtime, task: str = "caption", **spec: Any) -> str:
    return submit_job(
        runtime,
        JobSpec(task=task, **spec),
        [ImageInput(data=scene_a().encode("PNG"))],
        enqueue=False,
    ).job_id


def generate_calls(emulator: EmulatorServer) -> int:
    return int(emulator.control.stats()["calls"].get("generateContent", 0))


def load(runner_db: str, job_id: str) -> Job:
    with session_scope(runner_db) as session:
        job = get_job(session, job_id)
        session.expunge(job)
    return job


def count(runner_db: str, model: Any, job_id: str) -> int:
    with session_scope(runner_db) as session:
        found = session.scalar(
            select(func.count()).select_from(model).where(model.job_id == job_id)
        )
    return int(found or 0)


def usage_of(runner_db: str, job_id: str) -> Usage | None:
    with session_scope(runner_db) as session:
        usage = session.get(Usage, job_id)
        if usage is not None:
            session.expunge(usage)
    return usage


def quota_error(delay: str) -> dict[str, Any]:
    return {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "message": "Resource has been exhausted (e.g. check quota).",
            "retryDelay": delay,
        }
    }


@pytest.fixture
def before_finish(runner_db: str) -> Iterator[list[Callable[[], None]]]:
    """Steps run (once each) just before the runner's first write ending a job as succeeded
    (the guarded UPDATE, or on Postgres the one statement that has it as its first CTE)."""
    steps: list[Callable[[], None]] = []

    def hook(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if not statement.startswith(("UPDATE jobs SET status=", "WITH finished AS")):
            return
        if isinstance(params, dict) and params.get("status") == "succeeded":
            while steps:
                steps.pop(0)()

    engine = get_engine(runner_db)
    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield steps
    finally:
        event.remove(engine, "before_cursor_execute", hook)


def test_success_writes_results_and_usage_once_and_queues_the_webhooks(
    runtime: Runtime, runner_db: str, emulator: EmulatorServer
) -> None:
    job_id = new_job(runtime, webhook_url=HOOK, webhook_events=["job.started", "job.succeeded"])

    ended = run_job(runtime, job_id)

    assert ended.status == "succeeded" and ended.error is None
    assert generate_calls(emulator) == 1
    assert count(runner_db, JobResult, job_id) == 1
    usage = usage_of(runner_db, job_id)
    assert usage is not None and usage.calls == 1 and usage.prompt_tokens
    assert usage.estimated_tokens and usage.estimated_image_tokens
    with session_scope(runner_db) as session:
        rows = session.execute(
            select(WebhookDelivery.id, WebhookDelivery.event).where(
                WebhookDelivery.job_id == job_id
            )
        ).all()
        image = session.scalars(select(JobImage).where(JobImage.job_id == job_id)).one()
        assert image.transport == "inline" and image.tokens_estimated
    assert sorted(event for _, event in rows) == ["job.started", "job.succeeded"]
    assert sorted(queue_of(runtime).deliveries) == sorted(id_ for id_, _ in rows)
    assert queue_of(runtime).jobs == []
    assert run_job(runtime, job_id).status == "skipped"  # a second message changes nothing
    assert count(runner_db, JobResult, job_id) == 1 and generate_calls(emulator) == 1


def test_a_429_with_a_short_retry_delay_sends_a_delayed_message(
    runtime: Runtime, runner_db: str, emulator: EmulatorServer
) -> None:
    job_id = new_job(runtime, task="detect", priority=7)
    emulator.control.script([quota_error("3s")])

    ended = run_job(runtime, job_id)

    assert ended.status == "retry"
    [sent] = queue_of(runtime).jobs
    assert sent.job_id == job_id and sent.kind == "detect" and sent.priority == 7
    assert sent.countdown is not None and 3.0 <= sent.countdown <= 3.3
    job = load(runner_db, job_id)
    assert job.status == "queued" and job.error_code == "gemini_429"
    assert job.next_attempt_at is not None and job.enqueued_at is not None
    assert job.lease_owner is None
    assert run_job(runtime, job_id).status == "skipped"  # not due yet
    assert generate_calls(emulator) == 1


def test_a_429_with_a_long_retry_delay_parks_the_job_without_a_message(
    runtime: Runtime, runner_db: str, emulator: EmulatorServer
) -> None:
    job_id = new_job(runtime)
    emulator.control.script([quota_error("120s")])
    before = utcnow()

    ended = run_job(runtime, job_id)

    assert ended.status == "park"
    assert queue_of(runtime).jobs == []
    job = load(runner_db, job_id)
    assert job.status == "queued" and job.enqueued_at is None
    assert job.next_attempt_at is not None
    assert job.next_attempt_at - before >= timedelta(seconds=120)
    assert job.next_attempt_at - before <= timedelta(seconds=125)


def test_a_400_fails_at_once_with_geminis_message(
    runtime: Runtime, runner_db: str, emulator: EmulatorServer
) -> None:
    job_id = new_job(runtime, webhook_url=HOOK)
    bad = {"code": 400, "status": "INVALID_ARGUMENT", "message": "Unable to process input image"}
    emulator.control.script([{"error": bad}])

    ended = run_job(runtime, job_id)

    assert ended.status == "failed" and ended.error is not None
    code, message = ended.error
    assert code == "gemini_400" and "Unable to process input image" in message
    assert queue_of(runtime).jobs == []
    job = load(runner_db, job_id)
    assert (job.status, job.attempts, job.error_code) == ("failed", 1, "gemini_400")
    assert count(runner_db, JobResult, job_id) == 0
    usage = usage_of(runner_db, job_id)
    assert usage is not None and usage.estimated_tokens  # the quote is kept
    with session_scope(runner_db) as session:
        delivery = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)
        ).one()
        assert delivery.event == "job.failed"
    assert queue_of(runtime).deliveries == [delivery.id]
    assert generate_calls(emulator) == 1


def test_gives_up_after_max_attempts(
    runner_db: str, emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.control.reset()
    runtime = make_runtime(runner_db, emulator, tmp_path, max_attempts=2)
    job_id = new_job(runtime)
    emulator.control.script([quota_error("0s"), quota_error("0s")])

    assert run_job(runtime, job_id).status == "retry"
    ended = run_job(runtime, job_id)  # the recorded message, delivered

    assert ended.status == "failed" and ended.error is not None
    assert ended.error[0] == "gemini_429"
    assert ended.error[1].startswith("gave up after 2 attempts; last error: ")
    assert len(queue_of(runtime).jobs) == 1  # no third message
    job = load(runner_db, job_id)
    assert (job.status, job.attempts) == ("failed", 2)
    assert generate_calls(emulator) == 2


def test_cancel_requested_mid_run_ends_canceled_without_results(
    runtime: Runtime,
    runner_db: str,
    emulator: EmulatorServer,
    before_finish: list[Callable[[], None]],
) -> None:
    job_id = new_job(runtime)

    def producer_cancels() -> None:
        with session_scope(runner_db) as session:
            assert request_cancel(session, get_job(session, job_id)) == "running"

    before_finish.append(producer_cancels)

    ended = run_job(runtime, job_id)

    assert ended.status == "canceled"
    job = load(runner_db, job_id)
    assert (job.status, job.error_code) == ("canceled", "canceled")
    assert count(runner_db, JobResult, job_id) == 0
    usage = usage_of(runner_db, job_id)
    assert usage is not None and usage.calls == 1  # the tokens spent are still recorded
    assert generate_calls(emulator) == 1


def test_a_second_claim_of_a_running_job_is_skipped(
    runtime: Runtime, runner_db: str, emulator: EmulatorServer
) -> None:
    job_id = new_job(runtime)
    with session_scope(runner_db) as session:
        assert claim_job(session, job_id, "other-worker", lease_s=60) is not None

    assert run_job(runtime, job_id).status == "skipped"

    job = load(runner_db, job_id)
    assert (job.status, job.lease_owner, job.attempts) == ("running", "other-worker", 1)
    assert generate_calls(emulator) == 0


def test_a_lease_taken_by_another_worker_meanwhile_writes_nothing(
    runtime: Runtime,
    runner_db: str,
    emulator: EmulatorServer,
    before_finish: list[Callable[[], None]],
) -> None:
    job_id = new_job(runtime, webhook_url=HOOK)

    def lease_expires_and_another_worker_claims() -> None:
        with session_scope(runner_db) as session:
            session.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=utcnow()))
        with session_scope(runner_db) as session:
            assert claim_job(session, job_id, "other-worker", lease_s=60) is not None

    before_finish.append(lease_expires_and_another_worker_claims)

    ended = run_job(runtime, job_id)

    assert ended.status == "lease_lost"
    job = load(runner_db, job_id)
    assert (job.status, job.lease_owner, job.attempts) == ("running", "other-worker", 2)
    assert count(runner_db, JobResult, job_id) == 0
    assert count(runner_db, WebhookDelivery, job_id) == 0
    usage = usage_of(runner_db, job_id)
    assert usage is None or usage.calls == 0  # the new owner's run records its own
    assert queue_of(runtime).deliveries == [] and queue_of(runtime).jobs == []


def test_a_passed_deadline_fails_without_calling_gemini(
    runtime: Runtime, runner_db: str, emulator: EmulatorServer
) -> None:
    job_id = new_job(runtime)
    passed = utcnow() - timedelta(seconds=1)
    with session_scope(runner_db) as session:
        session.execute(update(Job).where(Job.id == job_id).values(deadline=passed))

    ended = run_job(runtime, job_id)

    assert ended.status == "failed" and ended.error is not None
    assert ended.error[0] == "deadline_exceeded"
    assert "deadline" in ended.error[1] and "passed" in ended.error[1]
    assert generate_calls(emulator) == 0
    assert load(runner_db, job_id).status == "failed"


def test_a_parked_job_is_sent_by_the_sweeper_once_due_and_then_succeeds(
    runtime: Runtime, runner_db: str, emulator: EmulatorServer
) -> None:
    job_id = new_job(runtime, webhook_url=HOOK)
    emulator.control.script([quota_error("120s")])
    assert run_job(runtime, job_id).status == "park"
    queue = queue_of(runtime)

    sweep_once(runtime)  # not due yet: no message for it
    assert [sent.job_id for sent in queue.jobs] == []

    with session_scope(runner_db) as session:  # two minutes later
        session.execute(update(Job).where(Job.id == job_id).values(next_attempt_at=utcnow()))
    sweep_once(runtime)
    assert [sent.job_id for sent in queue.jobs] == [job_id]
    assert load(runner_db, job_id).enqueued_at is not None
    sweep_once(runtime)  # stamped as sent: not sent twice
    assert [sent.job_id for sent in queue.jobs] == [job_id]

    ended = run_job(runtime, job_id)  # the message the sweeper sent

    assert ended.status == "succeeded"
    job = load(runner_db, job_id)
    assert (job.attempts, job.error_code) == (2, None)
    assert count(runner_db, JobResult, job_id) == 1
    assert generate_calls(emulator) == 2
