"""The webhook outbox and producers' rows on real Postgres: finish_job names the row it wrote,
a delivery is claimed by one sender at a time, attempts move it on, a 410 disables its URL for
the producer and a replay enables it again."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from imagejobs.core.jobspec import JobSpec
from imagejobs.store.claims import claim_job
from imagejobs.store.db import Database
from imagejobs.store.jobs import NewImage, create_job, finish_job
from imagejobs.store.models import Job, Producer, WebhookDelivery, utcnow
from imagejobs.store.outbox import (
    claim_delivery,
    delivery_attempts,
    due_delivery_ids,
    job_deliveries,
    new_delivery_ids,
    record_attempt,
    replay,
)
from imagejobs.store.producers import (
    KeyNotFound,
    LastActiveKey,
    authenticate,
    create_key,
    key_info,
    list_keys,
    revoke_key_by_id,
    webhook_secrets,
)

HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
def db(database_url: str) -> Database:
    return Database(database_url)


def _running_job(db: Database, producer_id: str | None, *, webhook: bool = True) -> str:
    spec = JobSpec(task="caption", webhook_url=HOOK if webhook else None)
    with db.session() as session:
        job = create_job(
            session,
            spec,
            [NewImage(source_url="https://example.com/a.png")],
            default_model="gemini-2.5-flash",
            producer_id=producer_id,
        )
        job_id = job.id
    with db.session() as session:
        assert claim_job(session, job_id, "w", lease_s=60) is not None
    return job_id


def _producer(db: Database) -> str:
    with db.session() as session:
        return create_key(session, f"outbox-{uuid.uuid4().hex[:8]}").producer.id


def test_finish_job_names_the_outbox_row_it_wrote(db: Database) -> None:
    job_id = _running_job(db, _producer(db))
    with db.session() as session:
        job = session.get_one(Job, job_id)
        lost = finish_job(session, job, "succeeded", owner="someone-else")
        assert not lost and lost.delivery_id is None
        done = finish_job(session, job, "succeeded", owner="w")
        assert done and done.delivery_id is not None
    with db.session() as session:
        rows = job_deliveries(session, job_id)
        assert [r.id for r in rows] == [done.delivery_id]
        assert rows[0].event == "job.succeeded" and rows[0].status == "pending"
        assert new_delivery_ids(session, job_id) == [done.delivery_id]


def test_finish_without_webhook_changes_the_status_and_writes_no_row(db: Database) -> None:
    job_id = _running_job(db, None, webhook=False)
    with db.session() as session:
        done = finish_job(session, session.get_one(Job, job_id), "failed", owner="w")
        assert done and done.delivery_id is None
        assert job_deliveries(session, job_id) == []


def _delivery(db: Database) -> tuple[str, str]:
    producer_id = _producer(db)
    job_id = _running_job(db, producer_id)
    with db.session() as session:
        finished = finish_job(session, session.get_one(Job, job_id), "succeeded", owner="w")
    assert finished.delivery_id is not None
    return finished.delivery_id, producer_id


def test_one_claim_at_a_time_and_attempts_move_the_delivery_on(db: Database) -> None:
    delivery_id, _ = _delivery(db)
    with db.session() as session:
        assert delivery_id in due_delivery_ids(session)
        assert claim_delivery(session, delivery_id, in_flight_s=60) is not None
    with db.session() as session:
        assert claim_delivery(session, delivery_id, in_flight_s=60) is None  # in flight
        assert delivery_id not in due_delivery_ids(session)
        row = record_attempt(
            session, delivery_id, status_code=503, error="HTTP 503", duration_ms=5, retry_in=30
        )
        assert row.attempts == 1 and row.status == "pending" and row.last_status_code == 503
    with db.session() as session:
        later = utcnow() + timedelta(seconds=31)
        assert delivery_id in due_delivery_ids(session, now=later)
        assert claim_delivery(session, delivery_id, in_flight_s=60, now=later) is not None
        record_attempt(
            session, delivery_id, status_code=204, error=None, duration_ms=3, final="succeeded"
        )
    with db.session() as session:
        row = session.get_one(WebhookDelivery, delivery_id)
        assert row.status == "succeeded" and row.next_attempt_at is None and row.attempts == 2
        assert [a.status_code for a in delivery_attempts(session, delivery_id)] == [503, 204]
        assert new_delivery_ids(session, row.job_id) == []


def test_gone_disables_the_url_and_a_replay_enables_it(db: Database) -> None:
    delivery_id, producer_id = _delivery(db)
    with db.session() as session:
        assert claim_delivery(session, delivery_id, in_flight_s=60) is not None
        record_attempt(
            session, delivery_id, status_code=410, error="HTTP 410", duration_ms=2, final="disabled"
        )
    with db.session() as session:
        assert session.get_one(Producer, producer_id).disabled_webhook_urls == [HOOK]
        replay(session, session.get_one(WebhookDelivery, delivery_id))
    with db.session() as session:
        row = session.get_one(WebhookDelivery, delivery_id)
        assert row.status == "pending" and delivery_id in due_delivery_ids(session)
        assert session.get_one(Producer, producer_id).disabled_webhook_urls == []
        assert webhook_secrets(session, producer_id)[0].startswith("whsec_")
        assert webhook_secrets(session, None) == []


def test_keys_in_one_session_each(db: Database) -> None:
    name = f"keys-{uuid.uuid4().hex[:8]}"
    with db.session() as session:
        first = create_key(session, name)
        second = create_key(session, name)
    assert first.created_producer and not second.created_producer
    with db.session() as session:
        assert key_info(session, second.key_id).producer == name
        by_name = {k.id for k in list_keys(session, name)}
        assert by_name == {k.id for k in list_keys(session, producer_id=first.producer.id)}
        assert by_name == {first.key_id, second.key_id}
        revoke_key_by_id(session, first.key_id)
    with db.session() as session, pytest.raises(LastActiveKey):
        revoke_key_by_id(session, second.key_id)
    with db.session() as session:
        with pytest.raises(KeyNotFound):
            key_info(session, "0" * 32)
        assert authenticate(session, first.api_key) is None
        assert authenticate(session, second.api_key) == second.producer
