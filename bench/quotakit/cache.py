"""Part (e): the result cache. Jobs over a few distinct images: Gemini calls made, jobs served
from the cache (``cached_from``, cost 0). Two runs:

* warm: each image's first job has finished before its repeats are submitted (the repeats all
  at once): the cache answers every repeat;
* all at once: every job submitted together in random order: repeats that run while their
  image's first job is still at Gemini find nothing to copy yet and call too (the cache copies
  finished jobs; it does not merge calls in flight).

Both behind the limiter at the emulator's quota (as in production): the cache is asked before
the quota gate, so a hit should neither wait for nor spend a slot of the quota.
"""

from __future__ import annotations

import random
import time

from bench.faultkit.report import ScenarioResult
from bench.faultkit.suite import Suite
from bench.quotakit.scale import QuotaScale
from bench.quotakit.stage import JobRow, Stage, quotas, statuses

CACHE_ON = {"IMAGEJOBS_RESULT_CACHE_TTL_S": "86400"}


def warm(stage: Stage, images: list[int], jobs: int) -> tuple[list[JobRow], int, float]:
    """First jobs, then the repeats at once: (rows, Gemini calls, seconds the repeats took)."""
    before = sum(stage.calls().values())
    first = stage.submit(images)
    stage.wait(first)
    repeats = [images[n % len(images)] for n in range(jobs - len(images))]
    random.Random(1).shuffle(repeats)
    began = time.time()
    again = stage.submit(repeats)
    last = stage.wait(again)
    calls = sum(stage.calls().values()) - before
    return stage.rows(first + again), calls, (last or time.time()) - began


def at_once(stage: Stage, images: list[int], jobs: int) -> tuple[list[JobRow], int]:
    before = sum(stage.calls().values())
    seeds = [images[n % len(images)] for n in range(jobs)]
    random.Random(2).shuffle(seeds)
    ids = stage.submit(seeds)
    stage.wait(ids)
    return stage.rows(ids), sum(stage.calls().values()) - before


def served(rows: list[JobRow]) -> str:
    hits = [row for row in rows if row.cached_from is not None]
    free = sum(row.cost_usd == 0 and row.calls == 0 for row in hits)
    return f"{len(hits)} from the cache ({free} of them with cost 0 and no call)"


def run(suite: Suite, scale: QuotaScale) -> ScenarioResult:
    jobs, count = scale.cache_jobs, scale.cache_images
    title = (
        f"{jobs} jobs over {count} distinct images; IMAGEJOBS_RESULT_CACHE_TTL_S=86400, limiter "
        f"and emulator at {scale.rpm} RPM"
    )
    env = {**CACHE_ON, "IMAGEJOBS_QUOTAS": quotas(scale)}
    with Stage(suite, scale, "cache", title, env=env, emulator={"rpm": scale.rpm}) as stage:
        stage.start_hosts()
        rows, calls, repeat_s = warm(stage, list(range(count)), jobs)
        result = stage.result
        pace = scale.rpm * scale.headroom / 60
        result.figure("warm: jobs", statuses(rows))
        result.figure("warm: Gemini calls", f"{calls} for {count} images")
        result.figure("warm: jobs served from the cache", served(rows))
        result.figure(
            f"warm: the {jobs - count} repeats took",
            f"{repeat_s:.1f} s (as calls, the quota's pace: {(jobs - count) / pace:.0f} s)",
        )
        result.check(
            f"warm: {jobs} jobs over {count} images made {count} Gemini calls",
            calls == count and all(row.status == "succeeded" for row in rows),
            f"{calls} calls; {statuses(rows)}",
        )
        result.check(
            "warm: every repeat served from the cache at cost 0",
            sum(row.cached_from is not None and row.cost_usd == 0 for row in rows) == jobs - count,
            served(rows),
        )
        began = time.time()
        rows, calls = at_once(stage, list(range(10_000, 10_000 + count)), jobs)
        result.figure("all at once: jobs", statuses(rows))
        result.figure("all at once: Gemini calls", f"{calls} for {count} images")
        result.figure("all at once: jobs served from the cache", served(rows))
        result.figure("all at once: took", f"{time.time() - began:.1f} s")
        return result
