"""The sweeper on real Postgres and a Redis of its own: what it sends, what it stamps, and a
broker that lost its messages."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from sqlalchemy import delete, select

from imagejobs.broker.app import make_celery
from imagejobs.broker.queue import JobQueue
from imagejobs.broker.watch import BrokerWatch
from imagejobs.core.jobspec import JobSpec
from imagejobs.execution.sweeper import sweep_once
from imagejobs.runtime import Runtime
from imagejobs.settings import Settings, load_settings
from imagejobs.store.blobs import DirectoryBlobStore
from imagejobs.store.db import session_scope
from imagejobs.store.jobs import NewImage, create_job
from imagejobs.store.migrate import migrate
from imagejobs.store.models import Job
from tests.own_redis import RedisServer, free_port, running_redis
from tests.services import fresh_database


@pytest.fixture(scope="module")
def database() -> str:
    url = fresh_database("sweeper")
    migrate(url)
    return url


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def settings(database: str, redis_server: RedisServer) -> Iterator[Settings]:
    with session_scope(database) as session:  # each test starts with no jobs
        session.execute(delete(Job))
    yield load_settings(database_url=database, broker_url=redis_server.url)


def app_for(url: str) -> Iterator[Celery]:
    app = make_celery(load_settings(broker_url=url))
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def broker(redis_server: RedisServer) -> Iterator[Celery]:
    yield from app_for(redis_server.url)


@pytest.fixture
def dead_broker() -> Iterator[Celery]:
    yield from app_for(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there


def on(celery: Celery, settings: Settings) -> Runtime:
    """A runtime whose queue sends through ``celery``."""
    runtime = Runtime.from_settings(settings)
    runtime.queue = JobQueue(settings, celery)
    return runtime


def queued_jobs(settings: Settings, tmp_path: Path, count: int) -> list[str]:
    sha = DirectoryBlobStore(tmp_path / "blobs").put(b"bytes")
    with session_scope(settings.effective_database_url) as session:
        return [
            create_job(
                session,
                JobSpec(task="detect"),
                [NewImage(sha, 5)],
                default_model="gemini-2.5-flash",
                will_enqueue=False,  # the broker refused: the sweeper is to send it
            ).id
            for _ in range(count)
        ]


def enqueued_at(settings: Settings, ids: list[str]) -> list[Any]:
    with session_scope(settings.effective_database_url) as session:
        return list(session.scalars(select(Job.enqueued_at).where(Job.id.in_(ids))))


def messages(server: RedisServer) -> list[dict[str, Any]]:
    """The job messages waiting on the broker: their Celery headers and kwargs."""
    client = redis.Redis.from_url(server.url)
    found = []
    for key in client.scan_iter("imagejobs*"):
        if client.type(key) != b"list":
            continue
        for raw in client.lrange(key, 0, -1):
            message = json.loads(raw)
            _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            found.append({**message["headers"], "kwargs": kwargs})
    client.close()
    return found


def test_a_send_the_broker_refused_is_not_stamped_and_is_sent_next_time(
    settings: Settings,
    tmp_path: Path,
    redis_server: RedisServer,
    broker: Celery,
    dead_broker: Celery,
) -> None:
    ids = queued_jobs(settings, tmp_path, 3)

    assert sweep_once(on(dead_broker, settings)) == 0
    assert enqueued_at(settings, ids) == [None, None, None]  # still due

    assert sweep_once(on(broker, settings)) == 3
    assert None not in enqueued_at(settings, ids)
    sent = messages(redis_server)
    assert sorted(m["kwargs"]["job_id"] for m in sent) == sorted(ids)
    assert {m["shadow"] for m in sent} == {"imagejobs.run_job detect"}  # Flower's task name
    assert sweep_once(on(broker, settings)) == 0  # sent once, not again


def test_a_wiped_broker_gets_every_queued_job_again_at_once(
    settings: Settings, tmp_path: Path, redis_server: RedisServer, broker: Celery
) -> None:
    ids = queued_jobs(settings, tmp_path, 3)
    watch = BrokerWatch(redis_server.url)
    try:
        assert sweep_once(on(broker, settings), watch=watch) == 3
        assert sweep_once(on(broker, settings), watch=watch) == 0  # nothing lost, no resend
        assert len(messages(redis_server)) == 3

        redis_server.restart()  # no persistence: every message is gone
        assert messages(redis_server) == []
        assert sweep_once(on(broker, settings), watch=watch) == 3
        assert sorted(m["kwargs"]["job_id"] for m in messages(redis_server)) == sorted(ids)
        assert sweep_once(on(broker, settings), watch=watch) == 0

        redis.Redis.from_url(redis_server.url).flushdb()  # a flush, no restart
        assert sweep_once(on(broker, settings), watch=watch) == 3
    finally:
        watch.close()
