"""Adapter tests against real services; the governance tests share this module-scoped Redis
database of the run (claimed, not shared with other runs) and a client on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.services import claim_redis_db


@pytest.fixture(scope="module")
def redis_url() -> str:
    return claim_redis_db()


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    connection.close()
