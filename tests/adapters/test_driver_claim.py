"""The claim straight through the driver (Postgres) against the claim in an ORM session: the
same job and images, the same guards, the errors SQLAlchemy would raise."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, update
from sqlalchemy.exc import OperationalError, ProgrammingError

from imagejobs.core.jobspec import JobSpec
from imagejobs.store.blobs import DirectoryBlobStore
from imagejobs.store.claims import Claim, claim_in_own_transaction, claim_job_noting_takeover
from imagejobs.store.db import Database, session_scope
from imagejobs.store.jobs import NewImage, create_job
from imagejobs.store.models import Image, Job, JobImage, utcnow


def new_job(database_url: str, tmp_path: Path, images: int = 2) -> str:
    blobs = DirectoryBlobStore(tmp_path)
    shas = [blobs.put(f"image {n}".encode()) for n in range(images)]
    spec = JobSpec(
        task="detect",
        target="cats",
        webhook_url="http://127.0.0.1:9/hook",
        metadata={"order": 7, "tags": ["a", "b"]},
        deadline=DEADLINE,
        priority=3,
    )
    with session_scope(database_url) as session:
        job = create_job(
            session, spec, [NewImage(sha, 7) for sha in shas], default_model="gemini-2.5-flash"
        )
        if shas:
            session.execute(update(Image).where(Image.sha256 == shas[0]).values(mime="image/png"))
        return job.id


# What differs between two jobs created one after the other.
OWN = {"id", "job_id", "created_at", "updated_at", "enqueued_at"}
DEADLINE = utcnow() + timedelta(minutes=10)


def columns(row: Job | JobImage) -> dict[str, object]:
    attributes = inspect(type(row)).column_attrs
    return {attr.key: getattr(row, attr.key) for attr in attributes if attr.key not in OWN}


def same_claims(driver: Claim, session: Claim) -> None:
    assert columns(driver.job) == columns(session.job)
    assert driver.took_over == session.took_over
    assert [(columns(image), mime) for image, mime in driver.images] == [
        (columns(image), mime) for image, mime in session.images
    ]


@pytest.mark.parametrize("images", [1, 3])
def test_the_driver_claim_reads_what_the_session_claim_reads(
    database_url: str, tmp_path: Path, images: int
) -> None:
    db = Database(database_url)
    now = utcnow()
    by_driver = claim_in_own_transaction(
        db, new_job(database_url, tmp_path, images), "w", lease_s=60, now=now
    )
    by_session_id = new_job(database_url, tmp_path, images)
    with session_scope(database_url) as session:
        by_session = claim_job_noting_takeover(session, by_session_id, "w", lease_s=60, now=now)
    assert by_driver is not None and by_session is not None
    assert len(by_driver.images) == images
    same_claims(by_driver, by_session)
    assert by_driver.job.status == "running" and by_driver.job.attempts == 1
    assert by_driver.job.job_metadata == {"order": 7, "tags": ["a", "b"]}
    assert by_driver.job.started_at is not None and by_driver.job.started_at.tzinfo is not None
    if images:
        assert by_driver.images[0][1] == "image/png" and by_driver.images[-1][1] in (
            None,
            "image/png",
        )


def test_the_driver_claim_keeps_the_guards(database_url: str, tmp_path: Path) -> None:
    db = Database(database_url)
    job_id = new_job(database_url, tmp_path)
    first = claim_in_own_transaction(
        db, job_id, "a", lease_s=60, now=utcnow() - timedelta(minutes=5)
    )
    assert first is not None and not first.took_over
    assert (
        claim_in_own_transaction(db, job_id, "b", lease_s=60, now=utcnow() - timedelta(minutes=4.5))
        is None
    )
    taken = claim_in_own_transaction(db, job_id, "b", lease_s=60)  # a's lease expired
    assert taken is not None and taken.took_over and taken.job.attempts == 2
    assert taken.job.lease_owner == "b"
    assert claim_in_own_transaction(db, job_id, "c", lease_s=60) is None
    assert claim_in_own_transaction(db, "no-such-job", "c", lease_s=60) is None


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(database_url: str) -> None:
    db = Database(database_url)
    failing = pytest.raises(ProgrammingError, match="no_such_table")
    with failing, db.driver_transaction() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")
    with db.driver_transaction() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")  # the pool's connection was rolled back, not broken
        assert cursor.fetchone() == (1,)
    lost = pytest.raises(OperationalError)
    with lost, db.driver_transaction() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    with db.driver_transaction() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")  # the lost connection was not given out again
        assert cursor.fetchone() == (1,)
