"""The queue-depth collector on real Postgres and Redis: unfinished jobs by status, queued jobs
not due yet, messages on the broker's priority lists, and sources that cannot be read; and the
take-over check a claim can make."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import delete, update

from imagejobs.broker.depth import BrokerDepth
from imagejobs.broker.queue import JobQueue
from imagejobs.core.jobspec import JobSpec
from imagejobs.observability.depth import QueueDepthCollector
from imagejobs.settings import load_settings
from imagejobs.store.claims import claim_job
from imagejobs.store.db import Database, session_scope
from imagejobs.store.jobs import NewImage, create_job
from imagejobs.store.migrate import migrate
from imagejobs.store.models import Job, utcnow
from imagejobs.store.takeover import expired_lease_owner
from tests.own_redis import free_port
from tests.services import fresh_database


@pytest.fixture(scope="module")
def database() -> str:
    url = fresh_database("queue_depth")
    migrate(url)
    return url


@pytest.fixture
def db(database: str) -> Iterator[Database]:
    with session_scope(database) as session:  # each test starts with no jobs
        session.execute(delete(Job))
    yield Database(database)


def new_job(db: Database, task: str = "caption") -> str:
    with db.session() as session:
        image = NewImage(source_url="https://example.com/a.png")
        return create_job(session, JobSpec(task=task), [image], default_model="m").id


def scrape(collector: QueueDepthCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def test_jobs_by_status_waiting_jobs_and_broker_messages(
    db: Database, redis_url: str, client: object
) -> None:
    ids = [new_job(db) for _ in range(5)]
    later = utcnow() + timedelta(hours=1)
    with db.session() as session:
        session.execute(update(Job).where(Job.id == ids[0]).values(next_attempt_at=later))
        session.execute(update(Job).where(Job.id == ids[1]).values(status="succeeded"))
        assert claim_job(session, ids[2], "host:1", lease_s=60) is not None
    queue = JobQueue(load_settings(broker_url=redis_url))
    try:
        for priority in (0, 0, 5, 9):  # three of the ten priority lists
            assert queue.enqueue_job(f"job-{priority}", kind="caption", priority=priority)
    finally:
        queue.close()
    broker = BrokerDepth(redis_url)
    registry = scrape(QueueDepthCollector(db, broker))
    try:
        assert registry.get_sample_value("imagejobs_queue_jobs", {"status": "queued"}) == 3
        assert registry.get_sample_value("imagejobs_queue_jobs", {"status": "running"}) == 1
        assert registry.get_sample_value("imagejobs_queue_jobs_waiting") == 1
        assert registry.get_sample_value("imagejobs_broker_messages", {"queue": "imagejobs"}) == 4
        for source in ("database", "broker"):
            assert registry.get_sample_value("imagejobs_queue_depth_up", {"source": source}) == 1
    finally:
        broker.close()


def test_no_jobs_counts_zero(db: Database) -> None:
    registry = scrape(QueueDepthCollector(db, None))
    assert registry.get_sample_value("imagejobs_queue_jobs", {"status": "queued"}) == 0
    assert registry.get_sample_value("imagejobs_queue_jobs", {"status": "running"}) == 0
    assert registry.get_sample_value("imagejobs_queue_jobs_waiting") == 0


def test_sources_that_cannot_be_read_are_left_out_and_said(database: str) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    down_db = Database(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing")
    broker = BrokerDepth(nowhere, timeout_s=0.5)
    registry = scrape(QueueDepthCollector(down_db, broker))
    assert registry.get_sample_value("imagejobs_queue_depth_up", {"source": "database"}) == 0
    assert registry.get_sample_value("imagejobs_queue_depth_up", {"source": "broker"}) == 0
    assert registry.get_sample_value("imagejobs_queue_jobs", {"status": "queued"}) is None
    assert registry.get_sample_value("imagejobs_broker_messages", {"queue": "imagejobs"}) is None
    broker.close()
    down_db.dispose()


def test_the_embedded_broker_cannot_be_asked() -> None:
    assert BrokerDepth.for_broker("sqla+sqlite:///broker.db") is None
    assert BrokerDepth.for_broker("redis://127.0.0.1:6379/3") is not None


def test_expired_lease_owner_tells_a_take_over(db: Database) -> None:
    job_id = new_job(db)
    start = utcnow()
    with db.session() as session:
        assert expired_lease_owner(session, job_id) is None  # queued: a plain claim
        assert claim_job(session, job_id, "first:1", lease_s=10, now=start) is not None
    with db.session() as session:
        assert expired_lease_owner(session, job_id, now=start + timedelta(seconds=5)) is None
        late = start + timedelta(seconds=11)
        assert expired_lease_owner(session, job_id, now=late) == "first:1"
        assert claim_job(session, job_id, "second:2", lease_s=10, now=late) is not None
    with db.session() as session:
        assert expired_lease_owner(session, job_id, now=late) is None  # ours now, not expired
