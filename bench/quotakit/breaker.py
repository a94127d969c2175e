"""Part (c): the circuit breaker. 100 % 503 on the jobs' model for a window; half the jobs name
a fallback model. Calls on the model during the outage (those that opened the breaker, then the
probes), where every job finished, and that none failed."""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field

from bench.faultkit.report import ScenarioResult
from bench.faultkit.suite import Suite
from bench.quotakit.scale import FALLBACK, MODEL, QuotaScale
from bench.quotakit.stage import JobRow, Stage, quotas, statuses
from imagejobs.core.governance_config import parse_breaker
from imagejobs.governance import SharedBreaker


@dataclass
class Watch:
    """The breaker's state on MODEL and the emulator's 503 count, every 0.1 s."""

    stage: Stage
    breaker: SharedBreaker
    opened_at: float | None = None
    closed_at: float | None = None
    failed_at_open: int | None = None  # 503s answered when the breaker was first seen open
    states: list[tuple[float, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def state(self) -> str:
        for row in self.breaker.snapshot():
            if row["model"] == MODEL:
                return str(row["state"])
        return "closed"

    def loop(self) -> None:
        while not self.stop.wait(0.1):
            now, state = time.time(), self.state()
            if not self.states or self.states[-1][1] != state:
                self.states.append((now, state))
            if state == "open" and self.opened_at is None:
                self.opened_at = now
                self.failed_at_open = self.stage.calls()["503"]
            if state == "closed" and self.opened_at is not None and self.closed_at is None:
                self.closed_at = now


def policy(scale: QuotaScale) -> dict[str, float]:
    return {
        "failures_to_open": 5,
        "window_s": 30,
        "probe_interval_s": scale.probe_interval_s,
        "successes_to_close": 2,
    }


def run(suite: Suite, scale: QuotaScale) -> ScenarioResult:
    breaker_env = policy(scale)
    env = {"IMAGEJOBS_QUOTAS": quotas(scale, "*"), "IMAGEJOBS_BREAKER": json.dumps(breaker_env)}
    title = (
        f"{scale.outage_s:g} s of 100 % 503 on {MODEL}; {scale.breaker_jobs} jobs, half naming "
        f"fallback_models [{FALLBACK}]; limiter and emulator at {scale.rpm} RPM per model"
    )
    with Stage(suite, scale, "breaker", title, env=env, emulator={"rpm": scale.rpm}) as stage:
        stage.start_hosts()
        client = suite.redis.client()
        watch = Watch(stage, SharedBreaker(client, parse_breaker(breaker_env)))
        watcher = threading.Thread(target=watch.loop, daemon=True)
        watcher.start()
        half = scale.breaker_jobs // 2
        began = time.time()
        plain, rescued = [], []
        for start in range(0, half, 10):  # interleaved, so both kinds are queued throughout
            count = min(10, half - start)
            plain += stage.submit(range(start, start + count))
            rescued += stage.submit(range(start, start + count), fallback_models=[FALLBACK])
        time.sleep(max(0.0, began + scale.outage_after_s - time.time()))
        before = stage.calls()
        outage_start = time.time()
        stage.emulator.control.overload(MODEL, for_s=scale.outage_s)
        time.sleep(scale.outage_s)
        outage_end = time.time()
        during = stage.calls()
        stage.wait(plain + rescued)
        watch.stop.set()
        watcher.join(timeout=5)
        figures(stage, scale, watch, plain, rescued, (outage_start, outage_end), before, during)
        return stage.result


def figures(
    stage: Stage,
    scale: QuotaScale,
    watch: Watch,
    plain: list[str],
    rescued: list[str],
    outage: tuple[float, float],
    before: dict[str, int],
    during: dict[str, int],
) -> None:
    result = stage.result
    start, end = outage
    failed_503 = during["503"] - before["503"]
    opened = watch.opened_at
    opening = (watch.failed_at_open or 0) - before["503"] if opened else failed_503
    probes = failed_503 - opening
    open_s = end - opened if opened is not None else 0.0
    allowed = math.floor(open_s / scale.probe_interval_s) + 1
    result.figure(f"calls on {MODEL} during the outage (all 503)", failed_503)
    result.figure("  of which before the breaker opened (opening it, or in flight)", opening)
    result.figure(
        "  of which after it opened (probes)",
        f"{probes} in {open_s:.0f} s open (1 per {scale.probe_interval_s:g} s: <= {allowed})",
    )
    timeline = ", ".join(f"{state} at {moment - start:+.1f} s" for moment, state in watch.states)
    result.figure("breaker states (from the outage's start)", timeline)
    plain_rows, rescued_rows = stage.rows(plain), stage.rows(rescued)
    for label, rows in (("no fallback", plain_rows), (f"fallback {FALLBACK}", rescued_rows)):
        result.figure(f"{label}: jobs", f"{len(rows)}: {statuses(rows)}")
        result.figure(f"{label}: answered by", answered(rows))
        result.figure(f"{label}: finished before / during / after the outage", when(rows, outage))
    last = max((row.finished_at or 0.0) for row in plain_rows + rescued_rows)
    result.figure("last job done, after the outage's end", f"{last - end:.1f} s")
    every = plain_rows + rescued_rows
    result.check("no job failed", all(row.status == "succeeded" for row in every), statuses(every))
    result.check(
        "calls after the breaker opened <= 1 per probe interval",
        opened is not None and probes <= allowed,
        f"{probes} <= {allowed}",
    )
    in_flight_end = start + scale.latency_s + 1  # calls sent before the outage still answer
    result.check(
        "jobs without a fallback finished after the outage (or before it), on their model",
        all(not in_flight_end < (row.finished_at or 0) < end for row in plain_rows)
        and all(row.answered_model == MODEL for row in plain_rows),
        when(plain_rows, outage),
    )
    result.check(
        "jobs with a fallback finished during the outage on the fallback",
        all(
            row.answered_model == FALLBACK
            for row in rescued_rows
            if row.finished_at is not None and start + 2 * scale.latency_s < row.finished_at < end
        ),
        answered(rescued_rows),
    )


def answered(rows: list[JobRow]) -> str:
    counted: dict[str, int] = {}
    for row in rows:
        counted[row.answered_model or "-"] = counted.get(row.answered_model or "-", 0) + 1
    return ", ".join(f"{model} x{n}" for model, n in sorted(counted.items()))


def when(rows: list[JobRow], outage: tuple[float, float]) -> str:
    start, end = outage
    moments = [row.finished_at for row in rows if row.finished_at is not None]
    before = sum(moment < start for moment in moments)
    after = sum(moment >= end for moment in moments)
    return f"{before} / {len(moments) - before - after} / {after}"
