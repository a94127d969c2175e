"""Real services for tests and benches: Postgres databases and Redis databases of this run alone,
and Celery worker processes.

Two runs of the suite on one host must not break each other, so nothing here has a fixed name:
every database is named after this run (``imagejobs_<run>_<purpose>``) and dropped at exit, and a
Redis database number is claimed with a lock key (``SET NX`` with a time to live, so a run that
was killed frees its numbers by itself) and released at exit. Nothing touches another run's
databases or connections.
"""

from __future__ import annotations

import atexit
import os
import secrets
import threading

import psycopg
import redis

from cli.worker_process import REPO, WorkerProcess

__all__ = ["REPO", "RUN_ID", "WorkerProcess", "claim_redis_db", "fresh_database"]

PG_ADMIN = os.environ.get("IMAGEJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("IMAGEJOBS_TEST_REDIS", "redis://127.0.0.1:6379")
RUN_ID = f"{os.getpid()}_{secrets.token_hex(3)}"

_REDIS_LOCK = "imagejobs-tests:redis-db:{}"
_REDIS_LOCK_TTL_S = 3 * 3600  # longer than any run; a killed run's claim expires by itself
_created: list[str] = []
_claimed: list[int] = []
_guard = threading.Lock()


def database_name(purpose: str) -> str:
    return f"imagejobs_{RUN_ID}_{purpose}"


def fresh_database(purpose: str) -> str:
    """Create this run's database for ``purpose`` (empty); return its SQLAlchemy URL.

    Created once per run and purpose; dropped when the process exits.
    """
    name = database_name(purpose)
    with _guard, psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        if name not in _created:
            conn.execute(f'CREATE DATABASE "{name}"')
            _created.append(name)
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def claim_redis_db() -> str:
    """A Redis database number no other run holds, flushed; returns its URL.

    Database 0 is left alone (it holds the claims); 1..15 are handed out.
    """
    admin = redis.Redis.from_url(f"{REDIS_BASE}/0")
    count = int(admin.config_get("databases").get("databases") or 16)
    for number in range(1, count):
        if admin.set(_REDIS_LOCK.format(number), RUN_ID, nx=True, ex=_REDIS_LOCK_TTL_S):
            with _guard:
                _claimed.append(number)
            url = f"{REDIS_BASE}/{number}"
            redis.Redis.from_url(url).flushdb()
            return url
    raise RuntimeError(
        f"every Redis database 1..{count - 1} on {REDIS_BASE} is held by another test run "
        f"(keys {_REDIS_LOCK.format('*')} in db 0)"
    )


@atexit.register
def _release() -> None:
    from imagejobs.store.db import dispose_all

    dispose_all()  # our own pooled connections, so the drop below does not wait for them
    with _guard:
        if _created:
            try:
                with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                    for name in _created:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg.Error:
                pass  # the server is gone; nothing of ours is left to drop there
        try:
            admin = redis.Redis.from_url(f"{REDIS_BASE}/0")
            for number in _claimed:
                redis.Redis.from_url(f"{REDIS_BASE}/{number}").flushdb()
                if admin.get(_REDIS_LOCK.format(number)) == RUN_ID.encode():
                    admin.delete(_REDIS_LOCK.format(number))
        except redis.RedisError:
            pass  # the claims expire by themselves
        _created.clear()
        _claimed.clear()
