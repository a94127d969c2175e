"""Real services for tests: a fresh Postgres database, a Redis database, a Celery worker process."""

from __future__ import annotations

import os

import psycopg
import redis

from worker.process import REPO, WorkerProcess

__all__ = ["REPO", "WorkerProcess", "fresh_database", "fresh_redis"]

PG_ADMIN = os.environ.get("IMAGEJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("IMAGEJOBS_TEST_REDIS", "redis://127.0.0.1:6379")


def fresh_database(name: str) -> str:
    """Drop and create database ``name``; return its SQLAlchemy URL."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def fresh_redis(db: int) -> str:
    url = f"{REDIS_BASE}/{db}"
    redis.Redis.from_url(url).flushdb()
    return url
