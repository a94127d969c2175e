"""The job repository and blob store on real Postgres and a real folder."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from imagejobs.core.jobspec import JobSpec
from imagejobs.store.blobs import BlobNotFound, DirectoryBlobStore, sha256_hex
from imagejobs.store.claims import claim_job
from imagejobs.store.db import session_scope
from imagejobs.store.jobs import (
    NewImage,
    create_job,
    due_job_ids,
    finish_job,
    request_cancel,
    schedule_retry,
)
from imagejobs.store.models import Job, JobImage, WebhookDelivery, utcnow


@pytest.fixture
def job_id(database_url: str, tmp_path: Path) -> str:
    blobs = DirectoryBlobStore(tmp_path)
    sha = blobs.put(b"not really an image")
    spec = JobSpec(task="caption", webhook_url="http://127.0.0.1:9/hook")
    with session_scope(database_url) as session:
        job = create_job(
            session, spec, [NewImage(sha, 19), NewImage(sha, 19)], default_model="gemini-2.5-flash"
        )
        return job.id


def test_blob_store_is_content_addressed(tmp_path: Path) -> None:
    blobs = DirectoryBlobStore(tmp_path)
    first = blobs.put(b"abc")
    assert first == sha256_hex(b"abc") == blobs.put(b"abc")
    assert blobs.get(first) == b"abc" and blobs.exists(first)
    with pytest.raises(BlobNotFound):
        blobs.get(sha256_hex(b"other"))
    with pytest.raises(ValueError, match="sha256"):
        blobs.path("../../etc/passwd")


def test_same_image_twice_in_one_job_is_stored_once(database_url: str, job_id: str) -> None:
    with session_scope(database_url) as session:
        rows = session.scalars(select(JobImage).where(JobImage.job_id == job_id)).all()
        assert [r.position for r in rows] == [0, 1] and rows[0].sha256 == rows[1].sha256


def test_only_one_claim_wins(database_url: str, job_id: str) -> None:
    with session_scope(database_url) as session:
        first = claim_job(session, job_id, "worker-a", lease_s=60)
    with session_scope(database_url) as session:
        second = claim_job(session, job_id, "worker-b", lease_s=60)
    assert first is not None and first.lease_owner == "worker-a" and first.attempts == 1
    assert second is None


def test_expired_lease_can_be_taken_over_and_old_owner_cannot_finish(
    database_url: str, job_id: str
) -> None:
    with session_scope(database_url) as session:
        claim_job(session, job_id, "worker-a", lease_s=60, now=utcnow() - timedelta(minutes=5))
    with session_scope(database_url) as session:
        taken = claim_job(session, job_id, "worker-b", lease_s=60)
        assert taken is not None and taken.attempts == 2
    with session_scope(database_url) as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert not finish_job(session, job, "succeeded", owner="worker-a")
        assert finish_job(session, job, "succeeded", owner="worker-b")
        deliveries = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)
        ).all()
        assert [d.event for d in deliveries] == ["job.succeeded"]  # outbox, same transaction


def test_long_delay_parks_and_sweeper_finds_it_when_due(database_url: str, job_id: str) -> None:
    with session_scope(database_url) as session:
        claim_job(session, job_id, "w", lease_s=60)
    with session_scope(database_url) as session:
        how = schedule_retry(
            session,
            job_id,
            "w",
            delay_s=120,
            park_after_s=30,
            error_code="gemini_429",
            error_message="quota",
        )
    assert how == "park"
    with session_scope(database_url) as session:
        assert job_id not in [due.id for due in due_job_ids(session)]
        assert claim_job(session, job_id, "w2", lease_s=60) is None  # not due yet
    later = utcnow() + timedelta(minutes=3)
    with session_scope(database_url) as session:
        assert job_id in [due.id for due in due_job_ids(session, now=later)]


def test_cancel_queued_job_ends_it_and_running_job_is_flagged(
    database_url: str, job_id: str, tmp_path: Path
) -> None:
    with session_scope(database_url) as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert request_cancel(session, job) == "canceled"
    blobs = DirectoryBlobStore(tmp_path)
    with session_scope(database_url) as session:
        other = create_job(
            session, JobSpec(task="caption"), [NewImage(blobs.put(b"x"), 1)], default_model="m"
        )
    with session_scope(database_url) as session:
        claim_job(session, other.id, "w", lease_s=60)
    with session_scope(database_url) as session:
        running = session.get(Job, other.id)
        assert running is not None
        assert request_cancel(session, running) == "running"
    with session_scope(database_url) as session:
        running = session.get(Job, other.id)
        assert running is not None and running.cancel_requested
        assert not finish_job(session, running, "succeeded", owner="w", unless_canceled=True)
