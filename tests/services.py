"""Real services for tests and benches: Postgres databases and Redis databases of this run alone,
and Celery worker processes.

Two runs of the suite on one host must not break each other, so nothing here has a fixed name:
every database is named after this run (``imagejobs_<run>_<purpose>``) and dropped at exit, and a
Redis database number is claimed with a lock key (``SET NX``) and released at exit. A run that
was killed cannot release its numbers: the next run on the host takes over a claim whose process
is gone once no client uses its database, and a claim of another host expires after a time to
live. Nothing touches another live run's databases or connections.
"""

from __future__ import annotations

import atexit
import os
import secrets
import socket
import threading

import psycopg
import redis

from cli.worker_process import REPO, WorkerProcess

__all__ = ["REPO", "RUN_ID", "WorkerProcess", "claim_redis_db", "fresh_database"]

PG_ADMIN = os.environ.get("IMAGEJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("IMAGEJOBS_TEST_REDIS", "redis://127.0.0.1:6379")
RUN_ID = f"{os.getpid()}_{secrets.token_hex(3)}"
HOST = socket.gethostname()

_REDIS_LOCK = "imagejobs-tests:redis-db:{}"
_REDIS_LOCK_TTL_S = 3 * 3600  # longer than any run; a killed run's claim expires by itself
_LOCK_HOLDER = f"{HOST} {os.getpid()} {RUN_ID}"  # a claim says where its process runs
# The claim changes hands only if it still names the holder that was found gone.
_TAKE_OVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return false
"""
_created: list[str] = []
_claimed: list[tuple[str, int]] = []  # (Redis base URL, database number)
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


def claim_redis_db(base: str = REDIS_BASE) -> str:
    """A Redis database number no other run holds, flushed; returns its URL.

    Database 0 is left alone (it holds the claims); 1..15 are handed out. A claim whose process
    on this host is gone (a run that was killed), on a database no client uses, is taken over.
    """
    admin = redis.Redis.from_url(f"{base}/0")
    count = int(admin.config_get("databases").get("databases") or 16)
    for number in range(1, count):
        key = _REDIS_LOCK.format(number)
        if admin.set(key, _LOCK_HOLDER, nx=True, ex=_REDIS_LOCK_TTL_S) or _take_over(admin, number):
            with _guard:
                _claimed.append((base, number))
            url = f"{base}/{number}"
            redis.Redis.from_url(url).flushdb()
            return url
    raise RuntimeError(
        f"every Redis database 1..{count - 1} on {base} is held by another test run "
        f"(keys {_REDIS_LOCK.format('*')} in db 0)"
    )


def _take_over(admin: redis.Redis, number: int) -> bool:
    """Claim database ``number`` if its holder is a process of this host that is gone and no
    client uses the database any more (a killed run's worker processes may outlive it)."""
    key = _REDIS_LOCK.format(number)
    holder = admin.get(key)
    if holder is None:  # released meanwhile: the next SET NX takes it
        return False
    if not holder_gone(holder.decode(errors="replace") if isinstance(holder, bytes) else holder):
        return False
    if any(str(client.get("db")) == str(number) for client in admin.client_list()):
        return False
    return bool(admin.eval(_TAKE_OVER, 1, key, holder, _LOCK_HOLDER, _REDIS_LOCK_TTL_S))


def holder_gone(holder: str, host: str = HOST) -> bool:
    """Whether a claim's holder (``host pid run``; older runs wrote ``pid_token``, on this
    host) is a process of ``host`` that no longer runs. Another host's claim is never gone
    here: only its time to live frees it."""
    parts = holder.split()
    holder_host, pid = (parts[0], parts[1]) if len(parts) == 3 else (host, holder.split("_")[0])
    if holder_host != host or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # running, as another user
    return False


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
        for base, number in _claimed:
            try:
                admin = redis.Redis.from_url(f"{base}/0")
                redis.Redis.from_url(f"{base}/{number}").flushdb()
                if admin.get(_REDIS_LOCK.format(number)) == _LOCK_HOLDER.encode():
                    admin.delete(_REDIS_LOCK.format(number))
            except redis.RedisError:
                pass  # the server is gone, or the next run on this host takes the claim over
        _created.clear()
        _claimed.clear()
