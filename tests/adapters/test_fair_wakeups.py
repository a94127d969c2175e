"""Fair shares and wake-ups, in this process on real Postgres, the run's own Redis and the
emulator: a message whose fair pick was claimed by another worker first (two wake-ups picked
the same job) must not be lost; its own job still has to run.

Found by bench/quota.py (fairness part): under two producers a wake-up ended ``skipped`` when
its picked job had just been claimed elsewhere, and the message's own job was left queued with
no message until the sweeper's stale re-send (``max(IMAGEJOBS_LEASE_S, 60 s)`` later). The
runner now falls back to the message's own job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis

import imagejobs.execution.runner as runner_module
from imagejobs.core.jobspec import JobSpec
from imagejobs.emulator import EmulatorServer
from imagejobs.execution.runner import run_job
from imagejobs.execution.scheduler import pick_job
from imagejobs.runtime import Runtime
from imagejobs.store.claims import claim_job
from imagejobs.store.migrate import migrate
from imagejobs.store.producers import create_producer
from imagejobs.submission import ImageInput, submit_job
from tests.adapters.test_runner_inprocess import load, make_runtime
from tests.e2e.test_tasks import scene_a
from tests.services import fresh_database


@pytest.fixture(scope="module")
def fair_db() -> str:
    url = fresh_database("fair_wakeups")
    migrate(url)
    return url


@pytest.fixture
def runtime(fair_db: str, emulator: EmulatorServer, tmp_path: Path, redis_url: str) -> Runtime:
    emulator.control.reset()
    redis.Redis.from_url(redis_url).flushdb()
    return make_runtime(
        fair_db, emulator, tmp_path, governance_redis_url=redis_url, result_cache_ttl_s=0
    )


def job_of(runtime: Runtime, producer: str, prompt: str) -> str:
    with runtime.db.session() as session:
        producer_id = create_producer(session, producer)[0].id
    return submit_job(
        runtime,
        JobSpec(task="caption", prompt=prompt),
        [ImageInput(data=scene_a().encode("PNG"))],
        producer_id=producer_id,
        enqueue=False,
    ).job_id


def test_a_wake_up_whose_pick_was_taken_runs_its_own_job(
    runtime: Runtime, fair_db: str, monkeypatch: Any
) -> None:
    own = job_of(runtime, "b-big", "mine")  # the message's own job
    job_of(runtime, "b-big", "another")
    picked = job_of(runtime, "a-small", "small")  # equal shares: the tie goes to a-small

    def pick_then_lose_the_race(
        current: Runtime, message_job_id: str, model: str | None = None
    ) -> Any:
        chosen, picker = pick_job(current, message_job_id, model)
        assert chosen == picked  # the fair pick: the other producer's job
        with current.db.session() as session:  # another worker's wake-up claims it first
            assert claim_job(session, chosen, "another-worker", lease_s=30) is not None
        return chosen, picker

    monkeypatch.setattr(runner_module, "pick_job", pick_then_lose_the_race)

    ended = run_job(runtime, own)

    assert (ended.job_id, ended.status) == (own, "succeeded")
    assert load(fair_db, own).status == "succeeded"
