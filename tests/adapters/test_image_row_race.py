"""Two submissions of the same new image at once, on real Postgres: both must be stored.

Found by bench/quota.py (cache part, jobs over a few images submitted by several threads):
``create_job`` looks up which image rows exist, then inserts the missing ones; two transactions
doing so for the same new sha256 both insert, and the second fails on the images table's
primary key (``UniqueViolation``), so ``submit_job`` raises and the API answers 500. Made
deterministic here: the second transaction's insert is seen waiting on the first's row lock
before the first commits. The insert now tolerates the row being there (``INSERT … ON
CONFLICT DO NOTHING``).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

import psycopg
import pytest

from imagejobs.core.jobspec import JobSpec
from imagejobs.store.db import session_scope
from imagejobs.store.jobs import NewImage, create_job
from imagejobs.store.migrate import migrate
from tests.services import fresh_database


@pytest.fixture(scope="module")
def race_db() -> str:
    url = fresh_database("image_row_race")
    migrate(url)
    return url


def waiting_on_a_lock(url: str) -> bool:
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    name = plain.rsplit("/", 1)[1]
    with psycopg.connect(plain, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
            (name,),
        ).fetchone()
    return bool(row and row[0])


def test_two_jobs_with_one_new_image_committed_at_once_are_both_stored(race_db: str) -> None:
    sha = hashlib.sha256(secrets.token_bytes(16)).hexdigest()
    image = [NewImage(sha256=sha, size_bytes=10, filename="same.png")]
    spec = JobSpec(task="caption")
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with session_scope(race_db) as session:
                create_job(session, spec, image, default_model="gemini-3.8-flash")
        except BaseException as exc:
            errors.append(exc)

    with session_scope(race_db) as session:
        create_job(session, spec, image, default_model="gemini-3.8-flash")  # flushed, uncommitted
        other = threading.Thread(target=second)
        other.start()
        deadline = time.monotonic() + 20
        while not waiting_on_a_lock(race_db):  # the second insert waits for this transaction
            assert time.monotonic() < deadline, "the second insert never waited on the first"
            time.sleep(0.05)
    other.join(timeout=20)

    assert errors == []
