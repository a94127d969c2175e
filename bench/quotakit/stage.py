"""The stage every part of bench/quota.py runs on: the fault suite's :class:`ScenarioRun` (a
database of its own on the suite's Postgres, the suite's Redis emptied, an in-process emulator,
worker hosts started as separate ``imagejobs worker`` processes) with the governance settings
of the part, job submission by producer, and what became of the jobs, read from Postgres."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bench.faultkit.report import ScenarioResult
from bench.faultkit.run import Scale, ScenarioRun
from bench.faultkit.suite import Suite
from bench.faultkit.tally import wait_final
from bench.quotakit.scale import MODEL, QuotaScale
from imagejobs.broker.watch import BrokerWatch
from imagejobs.core.jobspec import JobSpec
from imagejobs.core.times import as_utc
from imagejobs.emulator.scenes import random_scene
from imagejobs.store.db import session_scope
from imagejobs.store.models import Job, Usage
from imagejobs.store.producers import create_producer
from imagejobs.submission import ImageInput, submit_job

SUBMIT_THREADS = 4
# What every part's workers share: the sweeper sends parked jobs promptly, the result cache is
# off (parts send the same images again and again) unless a part turns it on.
BASE_ENV = {
    "IMAGEJOBS_SWEEP_INTERVAL_S": "1",
    "IMAGEJOBS_RESULT_CACHE_TTL_S": "0",
    "IMAGEJOBS_QUOTA_WAIT_S": "2",
}


def quotas(scale: QuotaScale, model: str = MODEL) -> str:
    """IMAGEJOBS_QUOTAS for the limiter at the emulator's quota (``model`` or ``*``)."""
    return json.dumps({model: {"rpm": scale.rpm, "headroom": scale.headroom}})


def fault_scale(scale: QuotaScale, drain_timeout_s: float) -> Scale:
    """The fault suite's scale, as ScenarioRun reads it (hosts of one process each)."""
    return Scale(
        name=scale.name,
        jobs=0,
        hosts=scale.hosts,
        processes=1,
        threads=scale.threads,
        latency_s=scale.latency_s,
        jitter_s=0.0,
        image_side=scale.image_side,
        drain_timeout_s=drain_timeout_s,
        outage_s=0,
        kill_lease_s=600,
        pg_lease_s=600,
        sweep_interval_s=1,
        storm_window_s=0,
        storm_retry_delay_s=0,
        poison_each=0,
    )


@functools.cache
def scene(seed: int, side: int) -> bytes:
    return random_scene(seed, side, side * 3 // 4, 3).encode("PNG")


@dataclass(frozen=True)
class JobRow:
    id: str
    status: str
    error_code: str | None
    error_message: str | None
    answered_model: str | None
    cached_from: str | None
    finished_at: float | None  # epoch seconds
    calls: int
    cost_usd: float | None
    estimated_tokens: int | None


class Stage:
    def __init__(
        self,
        suite: Suite,
        scale: QuotaScale,
        name: str,
        title: str,
        *,
        env: dict[str, str],
        emulator: dict[str, Any] | None = None,
        drain_timeout_s: float = 600.0,
    ) -> None:
        self.scale = scale
        self.result = ScenarioResult(name, title, scale.name)
        self.env = {**BASE_ENV, **env}
        self.run = ScenarioRun(
            suite,
            self.result,
            fault_scale(scale, drain_timeout_s),
            faults=emulator or {},
            worker_env=self.env,
        )
        self.drain_timeout_s = drain_timeout_s
        self.submit_races = 0  # submissions refused by the images table's key, sent again
        self._guard = threading.Lock()

    def __enter__(self) -> Stage:
        self.run.__enter__()
        self._mark_broker()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.submit_races:
            self.result.notes.append(
                f"{self.submit_races} submissions failed with a duplicate key on the images "
                "table (the same new image submitted twice at once) and were sent again"
            )
        self.run.__exit__(kind, exc, tb)

    @property
    def emulator(self) -> Any:
        assert self.run.emulator is not None
        return self.run.emulator

    def start_hosts(self) -> None:
        began = time.monotonic()
        self.run.start_hosts([f"host{index + 1}" for index in range(self.scale.hosts)])
        self.result.notes.append(
            f"{self.scale.hosts} worker hosts x {self.scale.threads} threads started in "
            f"{time.monotonic() - began:.0f} s; settings: "
            + ", ".join(f"{k}={v}" for k, v in sorted(self.env.items()))
        )

    def _mark_broker(self) -> None:
        """Set the marker a sweeper sets once it has re-sent what a lost broker held
        (BrokerWatch): the suite empties Redis before each part, and without the marker each
        host's first sweep would send every job already queued a second time."""
        watch = BrokerWatch(self.run.settings.effective_broker_url)
        try:
            watch.lost_messages()
            watch.remember()
        finally:
            watch.close()

    def producer(self, name: str) -> str:
        with self.run.runtime.db.session() as session:
            return create_producer(session, name)[0].id

    def submit(
        self,
        seeds: Iterable[int],
        *,
        producer_id: str | None = None,
        **spec: Any,
    ) -> list[str]:
        """One caption job on ``MODEL`` per seed (its scene), through ``submit_job``, by a few
        threads as several producer connections would; ids in the order of ``seeds``."""
        fields = {"task": "caption", "model": MODEL, **spec}
        side = self.scale.image_side

        def one(seed: int) -> str:
            image = ImageInput(data=scene(seed, side), filename=f"scene{seed}.png")
            for attempt in range(3):
                try:
                    submitted = submit_job(
                        self.run.runtime, JobSpec(**fields), [image], producer_id=producer_id
                    )
                    return submitted.job_id
                except IntegrityError:  # two submissions of one new image at once (the report)
                    with self._guard:
                        self.submit_races += 1
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

        with ThreadPoolExecutor(SUBMIT_THREADS) as pool:
            ids = list(pool.map(one, list(seeds)))
        self.run.job_ids += ids
        return ids

    def wait(self, ids: list[str], timeout_s: float | None = None) -> float | None:
        """The moment (epoch seconds) the last of ``ids`` finished, or None on timeout."""
        done = wait_final(self.run.db_url, ids, timeout_s or self.drain_timeout_s)
        if done is None:
            return None
        return max(row.finished_at or 0.0 for row in self.rows(ids))

    def rows(self, ids: list[str]) -> list[JobRow]:
        wanted = set(ids)
        with session_scope(self.run.db_url) as session:
            found = session.execute(
                select(
                    Job.id,
                    Job.status,
                    Job.error_code,
                    Job.error_message,
                    Job.answered_model,
                    Job.cached_from,
                    Job.finished_at,
                    Usage.calls,
                    Usage.cost_usd,
                    Usage.estimated_tokens,
                )
                .outerjoin(Usage, Usage.job_id == Job.id)
                .where(Job.id.in_(wanted))
            ).all()
        return [
            JobRow(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                as_utc(row[6]).timestamp() if row[6] is not None else None,
                int(row[7] or 0),
                row[8],
                row[9],
            )
            for row in found
        ]

    def calls(self, model: str = MODEL) -> Counter[str]:
        """The emulator's answers to generate calls on ``model``: ok, 429, 503, other."""
        counts = self.emulator.control.stats()["by_model"].get(model, {})
        return Counter({k: int(counts.get(k, 0)) for k in ("ok", "429", "503", "other")})

    def log_count(self, needle: str) -> int:
        return sum(len(host.log_lines(needle)) for host in self.run.hosts)


def statuses(rows: list[JobRow]) -> str:
    counted = Counter(row.status for row in rows)
    failed = Counter(row.error_code for row in rows if row.status == "failed")
    text = ", ".join(f"{n} {status}" for status, n in sorted(counted.items()))
    return text + (f" (failures: {dict(failed)})" if failed else "")


def steady_rate(finished: list[float], low: float = 0.1, high: float = 0.9) -> float | None:
    """Jobs per minute between the ``low`` and ``high`` quantiles of completion times (the run
    without its start and its tail)."""
    times = sorted(finished)
    if len(times) < 10:
        return None
    first, last = int(len(times) * low), int(len(times) * high) - 1
    span = times[last] - times[first]
    return (last - first) / span * 60 if span > 0 else None
