"""Part (a): the shared limiter. Three worker hosts against the emulator's quota: the share of
calls answered 429 and jobs per minute against the quota, with the limiter at the quota and
the same run without it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.faultkit.report import ScenarioResult
from bench.faultkit.suite import Suite
from bench.quotakit.scale import QuotaScale
from bench.quotakit.stage import Stage, quotas, statuses, steady_rate


@dataclass(frozen=True)
class Throughput:
    jobs: int
    succeeded: int
    calls: int
    answered_429: int
    wall_s: float  # first submit to last job finished
    per_min: float
    steady_per_min: float | None
    postponed: int  # wake-ups the quota gate postponed (worker log lines)
    summary: str

    @property
    def share_429(self) -> float:
        return self.answered_429 / self.calls if self.calls else 0.0


def measure(suite: Suite, scale: QuotaScale, *, limited: bool, jobs: int) -> Throughput:
    name = "limiter" if limited else "limiter_baseline"
    env = {"IMAGEJOBS_QUOTAS": quotas(scale)} if limited else {}
    title = "with the shared limiter" if limited else "without the limiter (baseline)"
    with Stage(
        suite, scale, name, title, env=env, emulator={"rpm": scale.rpm}, drain_timeout_s=900
    ) as stage:
        stage.start_hosts()
        began = time.time()
        ids = stage.submit(range(jobs))
        submitted = time.time() - began
        last = stage.wait(ids)
        rows = stage.rows(ids)
        calls = stage.calls()
        finished = [row.finished_at for row in rows if row.finished_at is not None]
        end = last if last is not None else max(finished, default=time.time())
        wall = end - began
        result = Throughput(
            jobs=jobs,
            succeeded=sum(row.status == "succeeded" for row in rows),
            calls=sum(calls.values()),
            answered_429=calls["429"],
            wall_s=wall,
            per_min=len(finished) / wall * 60,
            steady_per_min=steady_rate(finished),
            postponed=stage.log_count(": waits ") + stage.log_count(": postponed "),
            summary=statuses(rows) + ("" if last is not None else " (NOT all final)"),
        )
        print(
            f"   [{name}] {jobs} jobs submitted in {submitted:.0f} s, done in {wall:.0f} s: "
            f"{result.summary}",
            flush=True,
        )
        return result


def run(suite: Suite, scale: QuotaScale) -> ScenarioResult:
    governed = measure(suite, scale, limited=True, jobs=scale.limiter_jobs)
    baseline = measure(suite, scale, limited=False, jobs=scale.baseline_jobs)
    result = ScenarioResult(
        "limiter",
        f"{scale.hosts} worker hosts x {scale.threads} threads, emulator {scale.rpm} RPM and "
        f"{scale.latency_s:g} s latency",
        scale.name,
    )
    quota = scale.rpm
    for label, run_ in (("limiter", governed), ("no limiter", baseline)):
        result.figure(f"{label}: jobs", f"{run_.jobs} ({run_.summary})")
        result.figure(
            f"{label}: Gemini calls / answered 429",
            f"{run_.calls} / {run_.answered_429} ({run_.share_429:.2%})",
        )
        result.figure(
            f"{label}: jobs per minute (first submit to last done)",
            f"{run_.per_min:.0f} = {run_.per_min / quota:.1%} of {quota} RPM "
            f"in {run_.wall_s:.0f} s",
        )
        steady = run_.steady_per_min
        result.figure(
            f"{label}: jobs per minute, 10th to 90th percentile of completions",
            "-" if steady is None else f"{steady:.0f} = {steady / quota:.1%} of the quota",
        )
        result.figure(f"{label}: wake-ups sent back by the quota gate (waiting_*)", run_.postponed)
    if scale.baseline_jobs != scale.limiter_jobs:
        result.notes.append(
            f"the baseline runs {scale.baseline_jobs} jobs, not {scale.limiter_jobs}, to keep "
            "the whole benchmark under 15 minutes"
        )
    result.notes.append(
        f"limiter: IMAGEJOBS_QUOTAS at the emulator's {quota} RPM with headroom "
        f"{scale.headroom} (aims at {quota * scale.headroom:.0f} calls a minute)"
    )
    result.check(
        "limiter: every job succeeded",
        governed.succeeded == governed.jobs,
        governed.summary,
    )
    result.check(
        "limiter: share of calls answered 429 <= 1 %",
        governed.share_429 <= 0.01,
        f"{governed.share_429:.2%}",
    )
    result.check(
        "limiter: jobs per minute >= 95 % of the quota",
        governed.per_min >= 0.95 * quota,
        f"{governed.per_min / quota:.1%}",
        timed=True,
    )
    return result
