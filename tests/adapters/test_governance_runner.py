"""Quota governance in the runner, in this process, on real Postgres, the run's own Redis and the
emulator through the real SDK: the limiter postpones instead of sending into a 429, an open
breaker parks jobs and a fallback model answers, budgets refuse before anything is sent, the
result cache answers without a call, and fair shares serve a small producer between a big one's
jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.app import create_app
from imagejobs.core.fairshare import ProducerLoad
from imagejobs.core.jobspec import JobSpec
from imagejobs.emulator import EmulatorServer
from imagejobs.execution.runner import run_job
from imagejobs.execution.scheduler import fair_picker
from imagejobs.runtime import Runtime
from imagejobs.store.db import session_scope
from imagejobs.store.migrate import migrate
from imagejobs.store.models import Job, Usage, utcnow
from imagejobs.store.producers import create_producer
from imagejobs.submission import ImageInput, submit_job
from tests.adapters.test_runner_inprocess import (
    generate_calls,
    load,
    make_runtime,
    queue_of,
)
from tests.e2e.test_tasks import scene_a
from tests.services import fresh_database

MODEL = "gemini-2.5-flash"
FALLBACK = "gemini-2.5-flash-lite"


@pytest.fixture(scope="module")
def gov_db() -> str:
    url = fresh_database("governance_runner")
    migrate(url)
    return url


@pytest.fixture
def make(gov_db: str, emulator: EmulatorServer, tmp_path: Path, redis_url: str) -> Any:
    emulator.control.reset()
    redis.Redis.from_url(redis_url).flushdb()
    with session_scope(gov_db) as session:  # earlier tests' waiting jobs would compete here
        session.execute(
            update(Job).where(Job.status.in_(("queued", "running"))).values(status="canceled")
        )

    def build(**over: Any) -> Runtime:
        over.setdefault("result_cache_ttl_s", 0)
        return make_runtime(gov_db, emulator, tmp_path, governance_redis_url=redis_url, **over)

    return build


def job(
    runtime: Runtime, image: bytes | None = None, producer: str | None = None, **spec: Any
) -> str:
    spec.setdefault("model", MODEL)
    return submit_job(
        runtime,
        JobSpec(task=spec.pop("task", "caption"), **spec),
        [ImageInput(data=image or scene_a().encode("PNG"))],
        producer_id=producer,
        enqueue=False,
    ).job_id


def producer(runtime: Runtime, name: str) -> str:
    with runtime.db.session() as session:
        return create_producer(session, name)[0].id


def test_the_limiter_postpones_a_call_the_quota_has_no_room_for(make: Any, gov_db: str) -> None:
    runtime = make(quotas={MODEL: {"rpm": 2}}, quota_wait_s=0.5)  # one call each 30 s
    first, second = job(runtime), job(runtime, scene_a(320, 240).encode("PNG"))

    assert run_job(runtime, first).status == "succeeded"
    assert run_job(runtime, second).status == "waiting"

    waiting = load(gov_db, second)
    # Asked before any claim: nothing was written, the job stays due (a wake-up admitted sooner
    # may take it, by fair shares) and this wake-up comes back when the quota has a slot (30 s).
    assert waiting.status == "queued" and waiting.attempts == 0 and waiting.error_code is None
    assert waiting.next_attempt_at is None or waiting.next_attempt_at <= utcnow()
    [sent] = queue_of(runtime).jobs
    assert sent.job_id == second and sent.countdown is not None and 25 < sent.countdown < 40


def test_an_open_breaker_parks_jobs_without_calls_and_a_fallback_answers(
    make: Any, gov_db: str, emulator: EmulatorServer
) -> None:
    runtime = make(breaker={"failures_to_open": 2, "probe_interval_s": 60})
    emulator.control.overload(MODEL, for_s=120)
    failing = [job(runtime, task="caption", prompt=f"p{n}") for n in range(2)]
    for job_id in failing:
        assert run_job(runtime, job_id).status in ("retry", "park")
    assert generate_calls(emulator) == 2
    state = runtime.governor.breaker
    assert state is not None
    assert state.snapshot()[0]["state"] == "open"

    parked = job(runtime, prompt="parked")
    assert run_job(runtime, parked).status == "waiting"
    assert load(gov_db, parked).error_code == "waiting_breaker_open"
    assert generate_calls(emulator) == 2  # nothing sent while open (the probe slot was taken)

    health = TestClient(create_app(runtime=runtime)).get("/healthz").json()
    [breaker] = health["governance"]["breakers"]
    assert breaker["model"] == MODEL and breaker["state"] == "open"
    assert breaker["next_probe_in_s"] > 50

    rescued = job(runtime, prompt="rescued", fallback_models=[FALLBACK])
    assert run_job(runtime, rescued).status == "succeeded"
    done = load(gov_db, rescued)
    assert done.model == MODEL and done.answered_model == FALLBACK
    by_model = emulator.control.stats()["by_model"]
    assert by_model[FALLBACK]["ok"] == 1


def test_a_job_over_budget_ends_budget_exceeded_and_sends_nothing(
    make: Any, gov_db: str, emulator: EmulatorServer
) -> None:
    runtime = make(budgets={"thrifty": {"daily_usd": "0.0000001"}})
    owner = producer(runtime, "thrifty")
    refused = job(runtime, producer=owner, webhook_url=None)

    ended = run_job(runtime, refused)

    assert ended.status == "failed" and ended.error is not None
    code, message = ended.error
    assert code == "budget_exceeded" and "daily budget" in message and "thrifty" in message
    assert generate_calls(emulator) == 0

    waits = job(runtime, producer=owner, on_budget="wait")
    assert run_job(runtime, waits).status == "waiting"  # parked until the day turns
    parked = load(gov_db, waits)
    assert parked.status == "queued" and parked.error_code == "waiting_budget"
    assert parked.attempts == 0
    assert generate_calls(emulator) == 0


def test_a_budget_is_charged_the_billed_cost(make: Any, gov_db: str) -> None:
    runtime = make(budgets={"payer": {"daily_usd": 1}})
    owner = producer(runtime, "payer")
    job_id = job(runtime, producer=owner)
    assert run_job(runtime, job_id).status == "succeeded"
    with session_scope(gov_db) as session:
        usage = session.scalars(select(Usage).where(Usage.job_id == job_id)).one()
        billed = usage.cost_usd
    assert billed is not None and billed > 0
    budgets = runtime.governor.budgets
    assert budgets is not None
    spend = budgets.spend("payer")
    assert spend["day"].reserved == 0
    assert abs(spend["day"].spent - round(billed * 1e9)) <= 1


def test_the_result_cache_answers_an_equal_job_without_a_call(
    make: Any, gov_db: str, emulator: EmulatorServer
) -> None:
    runtime = make(result_cache_ttl_s=3600)
    first = job(runtime, prompt="cache me")
    assert run_job(runtime, first).status == "succeeded"
    again = job(runtime, prompt="cache me")
    assert run_job(runtime, again).status == "succeeded"
    opted_out = job(runtime, prompt="cache me", cache=False)
    assert run_job(runtime, opted_out).status == "succeeded"

    assert generate_calls(emulator) == 2  # the first and the opted-out one
    hit = load(gov_db, again)
    assert hit.cached_from == first and hit.answered_model is None
    with session_scope(gov_db) as session:
        usage = session.get(Usage, again)
        assert usage is not None and usage.calls == 0 and usage.cost_usd == 0
    view = runtime_view(runtime, again)
    assert view["cached_from"] == first
    assert view["caption"] == runtime_view(runtime, first)["caption"]
    assert "served from the result cache" in " ".join(view["notes"])


def runtime_view(runtime: Runtime, job_id: str) -> dict[str, Any]:
    from imagejobs.results.view import job_view

    with runtime.db.session() as session:
        return job_view(session, job_id)


def test_fair_shares_serve_a_small_producer_between_a_big_ones_jobs(make: Any) -> None:
    runtime = make()
    big, small = producer(runtime, "big"), producer(runtime, "small")
    bigs = [job(runtime, producer=big, prompt=f"b{n}") for n in range(12)]
    smalls = [job(runtime, producer=small, prompt=f"s{n}") for n in range(3)]
    picker = fair_picker(runtime)
    assert picker is not None

    order = []
    for message in bigs[:8]:  # the big producer's messages come first on the queue
        picker._read_at = -1.0  # read the loads afresh for each step
        ended = run_job(runtime, message)
        assert ended.status == "succeeded"
        order.append(ended.job_id)
    assert set(smalls) <= set(order[:6])  # every small job ran within the first six
    assert len(set(order)) == 8  # each wake-up ran one job, none twice


def test_a_wake_up_that_ran_another_job_sends_its_own_again(make: Any, gov_db: str) -> None:
    runtime = make()
    busy, idle = producer(runtime, "busy"), producer(runtime, "orphan-owner")
    mine = job(runtime, producer=busy, prompt="mine")
    with session_scope(gov_db) as session:  # as if its message had been sent
        session.execute(update(Job).where(Job.id == mine).values(enqueued_at=utcnow()))
    orphan = job(runtime, producer=idle, prompt="no message")  # due, and nobody holds its id
    picker = fair_picker(runtime)
    assert picker is not None
    picker._read_at = -1.0
    picker.fair.dispatched(ProducerLoad("busy", waiting=1))  # busy already had its turn

    ended = run_job(runtime, mine)

    assert (ended.job_id, ended.status) == (orphan, "succeeded")  # the fair pick ran first
    [resent] = queue_of(runtime).jobs
    assert resent.job_id == mine and not resent.countdown  # its own job keeps a wake-up
    assert load(gov_db, mine).status == "queued"
    assert run_job(runtime, mine).job_id == mine
