"""The suite's own Redis database claims (``tests/services.claim_redis_db``), on a Redis server
of this test alone: a claim whose process on this host is gone (a run that was killed) is taken
over, so a killed run cannot leave the next runs without databases; a live run's claim, another
host's, or one whose database a client still uses (a killed run's worker) is not."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.own_redis import RedisServer, running_redis
from tests.services import HOST, claim_redis_db, holder_gone

LOCK = "imagejobs-tests:redis-db:{}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path / "redis") as started:
        yield started


def gone_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_killed_runs_claim_is_taken_over_and_a_live_ones_is_not(server: RedisServer) -> None:
    base = server.url.rsplit("/", 1)[0]
    admin = redis.Redis.from_url(f"{base}/0")
    live = f"{HOST} {os.getpid()} live_run"
    for number in range(1, 16):  # every number held by a live run of this host...
        admin.set(LOCK.format(number), live)
    elsewhere = f"elsewhere {gone_pid()} other_host_run"
    admin.set(LOCK.format(2), elsewhere)  # ...another host's
    admin.set(LOCK.format(5), f"{HOST} {gone_pid()} killed_run")  # ...a killed run's
    admin.set(LOCK.format(9), f"{gone_pid()}_abc123")  # ...an older killed run's
    orphan_holder = f"{gone_pid()} killed_run_with_a_worker_left"
    admin.set(LOCK.format(3), f"{HOST} {orphan_holder}")
    orphan = redis.Redis.from_url(f"{base}/3")
    orphan.ping()  # ...whose worker still uses its database
    redis.Redis.from_url(f"{base}/5").set("left-behind", "1")

    assert claim_redis_db(base) == f"{base}/5"
    assert redis.Redis.from_url(f"{base}/5").dbsize() == 0  # flushed for its new holder
    assert claim_redis_db(base) == f"{base}/9"
    with pytest.raises(RuntimeError, match="held by another test run"):
        claim_redis_db(base)
    assert admin.get(LOCK.format(2)) == elsewhere.encode()
    assert admin.get(LOCK.format(3)) == f"{HOST} {orphan_holder}".encode()  # still its own
    orphan.close()
    assert admin.get(LOCK.format(1)) == live.encode()


def test_holder_gone_reads_both_forms_and_keeps_other_hosts() -> None:
    dead = gone_pid()
    assert holder_gone(f"{HOST} {dead} run")
    assert holder_gone(f"{dead}_abc123")  # an older run's claim, on this host
    assert not holder_gone(f"{HOST} {os.getpid()} run")
    assert not holder_gone(f"other-host {dead} run")
    assert not holder_gone("not a claim")
