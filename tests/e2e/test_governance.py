"""Quota governance on real workers: a worker host of two processes started here with its own
governance settings (a quota on one model, a quick breaker, a producer's tiny budget, the
result cache on), on a database and a Redis of this module alone, the emulator answering and
the API over HTTP.

* the limiter: both processes share one quota and one cap on calls in flight: the emulator,
  at the same quota, answers no 429 and never holds more calls at once than the cap (a dozen
  calls fit in the quota's minute whatever the pacing, so 429 shares at scale are measured by
  bench/quota.py; what can fail here is the fleet-wide pacing and cap);
* the breaker: an overloaded model's breaker opens after two 503s; jobs that name a fallback
  are answered by it, the others wait (``waiting_breaker_open``) and finish on their own model
  once it answers again; none fails;
* the budget: a producer whose budget cannot cover a job sees it end ``budget_exceeded`` in
  the job view (a 200, not a problem), nothing sent;
* the cache: an equal second job is served from the first one's results (``cached_from``,
  cost 0, no call), ``cache: false`` calls again.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.client import ImageJobsClient
from imagejobs.core.jobspec import JobSpec
from imagejobs.emulator import EmulatorServer
from imagejobs.emulator.scenes import random_scene
from imagejobs.results.view import job_view
from imagejobs.runtime import Runtime
from imagejobs.settings import Settings, load_settings
from imagejobs.store.db import Database
from imagejobs.store.migrate import migrate
from imagejobs.store.producers import NewKey, create_key
from imagejobs.submission import ImageInput, submit_job
from tests.api.conftest import serve
from tests.services import WorkerProcess, claim_redis_db, fresh_database

pytestmark = pytest.mark.slow

LIMITED = "gemini-3.8-flash"  # the one model with a quota
RPM, MAX_CONCURRENT = 60, 2
OVERLOADED = "gemini-2.5-flash"
FALLBACK = "gemini-2.5-flash-lite"
FAILURES_TO_OPEN, PROBE_INTERVAL_S = 2, 1.0
FINAL = ("succeeded", "failed", "canceled")


@dataclass
class Stack:
    settings: Settings
    worker: WorkerProcess
    api_url: str
    thrifty: NewKey  # a budget that covers nothing
    payer: NewKey  # no budget

    def submit(self, images: list[bytes], **fields: Any) -> str:
        spec = JobSpec(**fields)
        inputs = [ImageInput(data=data, filename=f"img{n}.png") for n, data in enumerate(images)]
        return submit_job(Runtime.from_settings(self.settings), spec, inputs).job_id

    def view(self, job_id: str) -> dict[str, Any]:
        with Database(self.settings.effective_database_url).session() as session:
            return job_view(session, job_id, include_masks=False)

    def wait(self, job_id: str, timeout_s: float = 45.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while (view := self.view(job_id))["status"] not in FINAL:
            assert time.monotonic() < deadline, f"job {job_id} not final: {view}"
            time.sleep(0.05)
        return view


def worker_env(
    database: str, broker: str, folder: Path, emulator: EmulatorServer
) -> dict[str, str]:
    return {
        "IMAGEJOBS_DATABASE_URL": database,
        "IMAGEJOBS_BROKER_URL": broker,  # and the governance Redis (the default)
        "IMAGEJOBS_BLOB_DIR": str(folder / "blobs"),
        "IMAGEJOBS_GEMINI_BASE_URL": emulator.base_url,
        "IMAGEJOBS_RETRY_BASE_S": "0.2",
        "IMAGEJOBS_MAX_ATTEMPTS": "8",
        "IMAGEJOBS_SWEEP_INTERVAL_S": "0.5",
        "IMAGEJOBS_PARK_AFTER_S": "5",
        "IMAGEJOBS_QUOTAS": json.dumps({LIMITED: {"rpm": RPM, "max_concurrent": MAX_CONCURRENT}}),
        "IMAGEJOBS_BREAKER": json.dumps(
            {
                "failures_to_open": FAILURES_TO_OPEN,
                "window_s": 30,
                "probe_interval_s": PROBE_INTERVAL_S,
                "successes_to_close": 1,
            }
        ),
        "IMAGEJOBS_RESULT_CACHE_TTL_S": "3600",
    }


@pytest.fixture(scope="module")
def stack(emulator: EmulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("governance")
    database = fresh_database("governance")
    migrate(database)
    broker = claim_redis_db()
    with Database(database).session() as session:
        thrifty = create_key(session, f"thrifty-{uuid.uuid4().hex[:8]}")
        payer = create_key(session, f"payer-{uuid.uuid4().hex[:8]}")
    env = worker_env(database, broker, folder, emulator)
    env["IMAGEJOBS_BUDGETS"] = json.dumps({thrifty.producer.name: {"daily_usd": "0.000001"}})
    settings = load_settings(database_url=database, broker_url=broker, blob_dir=folder / "blobs")
    worker = WorkerProcess(env, folder / "worker.log", concurrency=16, processes=2)
    worker.start()
    try:
        with serve(create_app(settings)) as api_url:
            yield Stack(settings, worker, api_url, thrifty, payer)
    finally:
        worker.stop()


def scene(seed: int) -> bytes:
    return random_scene(seed, 96, 72, 2).encode("PNG")


def test_two_worker_processes_share_the_quota_and_the_cap(
    stack: Stack, emulator: EmulatorServer
) -> None:
    emulator.control.set_quota(rpm=RPM)  # the emulator counts the same quota
    emulator.control.set_faults(latency_s=0.5)
    ids = [stack.submit([scene(100 + n)], task="caption", model=LIMITED) for n in range(12)]

    views = [stack.wait(job_id) for job_id in ids]

    assert [view["status"] for view in views] == ["succeeded"] * len(ids)
    stats = emulator.control.stats()
    answered = stats["by_model"][LIMITED]
    assert (answered["ok"], answered["429"]) == (len(ids), 0)
    assert stats["max_in_flight"] <= MAX_CONCURRENT  # 16 threads in two processes, one cap


def test_an_overloaded_model_opens_the_breaker_and_fallbacks_answer(
    stack: Stack, emulator: EmulatorServer
) -> None:
    outage_s = 6.0
    emulator.control.overload(OVERLOADED, for_s=outage_s)
    began = time.monotonic()
    plain = [stack.submit([scene(200 + n)], task="caption", model=OVERLOADED) for n in range(2)]
    rescued = [
        stack.submit([scene(210 + n)], task="caption", model=OVERLOADED, fallback_models=[FALLBACK])
        for n in range(2)
    ]
    seen = set()
    while time.monotonic() - began < outage_s - 1:  # what a producer sees meanwhile
        seen |= {(stack.view(job_id)["error"] or {}).get("code") for job_id in plain}
        time.sleep(0.05)
    plain_views = [stack.wait(job_id) for job_id in plain]
    rescued_views = [stack.wait(job_id) for job_id in rescued]

    assert [v["status"] for v in plain_views + rescued_views] == ["succeeded"] * 4
    assert {v["answered_model"] for v in plain_views} == {OVERLOADED}
    assert {(v["model"], v["answered_model"]) for v in rescued_views} == {(OVERLOADED, FALLBACK)}
    assert "waiting_breaker_open" in seen
    assert "breaker default/gemini-2.5-flash: closed -> open" in stack.worker.log()
    # Without the breaker each plain job would be sent again at every retry of the outage;
    # with it: the first calls of the four jobs, then at most one probe per interval.
    failed = emulator.control.stats()["by_model"][OVERLOADED]["503"]
    assert failed <= 4 + math.ceil(outage_s / PROBE_INTERVAL_S) + 1


def test_a_job_over_budget_is_failed_budget_exceeded_in_the_job_view(
    stack: Stack, emulator: EmulatorServer
) -> None:
    with ImageJobsClient(stack.api_url, stack.thrifty.api_key, timeout=30) as client:
        job = client.submit([scene(300)], task="caption", model=FALLBACK)
        done = client.wait(job["id"], timeout=45, poll_initial=0.1, poll_max=0.5)

    assert done["status"] == "failed"
    error = done["error"]
    assert error["code"] == "budget_exceeded"
    assert "daily budget" in error["message"] and stack.thrifty.producer.name in error["message"]
    assert done["usage"]["calls"] == 0
    assert emulator.control.stats()["calls"].get("generateContent", 0) == 0  # nothing sent


def test_an_equal_job_is_served_from_the_cache_through_the_api(
    stack: Stack, emulator: EmulatorServer
) -> None:
    image = scene(400)
    with ImageJobsClient(stack.api_url, stack.payer.api_key, timeout=30) as client:

        def run(**fields: Any) -> dict[str, Any]:
            job = client.submit([image], task="caption", model=FALLBACK, **fields)
            return client.wait(job["id"], timeout=45, poll_initial=0.1, poll_max=0.5)

        first, hit, fresh = run(), run(), run(cache=False)

    assert [job["status"] for job in (first, hit, fresh)] == ["succeeded"] * 3
    assert first["cached_from"] is None and first["usage"]["cost_usd"] > 0
    assert hit["cached_from"] == first["id"] and hit["caption"] == first["caption"]
    assert (hit["usage"]["calls"], hit["usage"]["cost_usd"]) == (0, 0)
    assert any("served from the result cache" in note for note in hit["notes"])
    assert fresh["cache"] is False and fresh["cached_from"] is None
    assert emulator.control.stats()["calls"]["generateContent"] == 2  # the first and the fresh
