"""Part (b): fair shares. Producer A submits a backlog, then producer B a handful of jobs; B's
completion time against 2 x (its jobs / its fair share of the quota), next to the unfair
baseline: once B's are done, as many jobs again on the same fleet and backlog but under A's
name, so the fleet sees one producer and serves them as it serves one producer's jobs (what it
did before fair shares)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.faultkit.report import ScenarioResult
from bench.faultkit.suite import Suite
from bench.quotakit.scale import QuotaScale
from bench.quotakit.stage import Stage, quotas

WARM_S = 5.0


@dataclass(frozen=True)
class Arrival:
    seconds: float | None  # first submit to the last of its jobs done (None: not within the cap)
    done: int
    a_waiting: int  # A's jobs not yet final when the handful arrived
    a_done_meanwhile: int  # A's jobs finished while the handful's ran
    waited_s: float
    sent_back: float  # times each of the handful was sent back by the quota gate, on average

    @property
    def share(self) -> float:
        """The handful's share of the jobs that finished while it waited."""
        total = self.done + self.a_done_meanwhile
        return self.done / total if total else 0.0


def arrive(stage: Stage, a_ids: list[str], seeds: range, producer: str, cap: float) -> Arrival:
    """Submit a handful of jobs for ``producer`` now; wait (at most ``cap``) for them."""
    a_waiting = sum(row.status not in ("succeeded", "failed") for row in stage.rows(a_ids))
    began = time.time()
    ids = stage.submit(seeds, producer_id=producer)
    last = stage.wait(ids, timeout_s=cap)
    waited = time.time() - began
    log = [line for host in stage.run.hosts for line in host.log_lines(": waits ")]
    mine = set(ids)
    sent_back = sum(1 for line in log if line.split("job ", 1)[-1].split(":", 1)[0] in mine)
    return Arrival(
        seconds=None if last is None else last - began,
        done=sum(row.status == "succeeded" for row in stage.rows(ids)),
        a_waiting=a_waiting,
        a_done_meanwhile=sum(
            began <= (row.finished_at or 0) <= began + waited for row in stage.rows(a_ids)
        ),
        waited_s=waited,
        sent_back=sent_back / len(ids),
    )


def measure(stage: Stage, scale: QuotaScale) -> tuple[Arrival, Arrival, int]:
    """A's backlog, then B's handful (fair shares), then once B is done another handful under
    A's own name (the baseline), on the same fleet and backlog. Also: wake-ups that found
    nothing to claim (each one a job left without a message, see the report)."""
    producer_a = stage.producer("producer-a")
    producer_b = stage.producer("producer-b")
    a_ids = stage.submit(range(scale.fair_a), producer_id=producer_a)  # queued, then served
    stage.start_hosts()
    time.sleep(WARM_S)  # the fleet busy with A's backlog when B arrives
    first = scale.fair_a
    fair = arrive(stage, a_ids, range(first, first + scale.fair_b), producer_b, 600)
    print(f"   [fair shares] {fair}", flush=True)
    skipped = stage.log_count("nothing to do")
    first += scale.fair_b
    unfair = arrive(
        stage, a_ids, range(first, first + scale.fair_b), producer_a, scale.fair_baseline_cap_s
    )
    print(f"   [baseline] {unfair}", flush=True)
    return fair, unfair, skipped


def run(suite: Suite, scale: QuotaScale) -> ScenarioResult:
    title = (
        f"producer A submits {scale.fair_a} jobs, then producer B {scale.fair_b}; "
        f"{scale.hosts} hosts x {scale.threads} threads, limiter and emulator at {scale.rpm} RPM"
    )
    env = {"IMAGEJOBS_QUOTAS": quotas(scale)}
    with Stage(suite, scale, "fairness", title, env=env, emulator={"rpm": scale.rpm}) as stage:
        fair, unfair, skipped = measure(stage, scale)
        figures(stage.result, scale, fair, unfair, skipped)
        return stage.result


def figures(
    result: ScenarioResult, scale: QuotaScale, fair: Arrival, unfair: Arrival, skipped: int
) -> None:
    share_rpm = scale.rpm / 2  # two producers of weight 1
    ideal_s = scale.fair_b / share_rpm * 60
    bound_s = 2 * ideal_s
    result.figure("B's fair share of the quota", f"{share_rpm:.0f} RPM (weights 1 and 1)")
    result.figure(
        "bound: 2 x (B's jobs / its fair share)", f"{bound_s:.1f} s (ideal {ideal_s:.1f} s)"
    )
    rows = (
        ("fair shares (B as its own producer)", fair),
        ("baseline (the same jobs under A's name)", unfair),
    )
    for label, arrival in rows:
        result.figure(f"{label}: A's jobs not final at the arrival", arrival.a_waiting)
        seconds = arrival.seconds
        result.figure(
            f"{label}: completion time of the {scale.fair_b}",
            f"{seconds:.1f} s"
            if seconds is not None
            else f"> {arrival.waited_s:.0f} s ({arrival.done} of {scale.fair_b} done, stopped)",
        )
        result.figure(
            f"{label}: A's jobs done meanwhile / share of the {scale.fair_b}",
            f"{arrival.a_done_meanwhile} / {arrival.share:.1%}",
        )
        result.figure(f"{label}: times each was sent back (waiting_*)", f"{arrival.sent_back:.1f}")
    result.figure("wake-ups that found their pick taken (skipped)", skipped)
    if unfair.seconds is not None and fair.seconds:
        result.figure("baseline / fair shares", f"{unfair.seconds / fair.seconds:.1f}x")
    result.notes.append(
        "the baseline's jobs arrive in the same run once B's are done, behind what is left of "
        "A's backlog (one producer: each wake-up runs its own message's job)"
    )
    result.check(
        "fair shares: all of B's jobs succeeded",
        fair.done == scale.fair_b,
        f"{fair.done} of {scale.fair_b}",
    )
    result.check(
        "fair shares: B done within 2 x (its jobs / its fair share)",
        fair.seconds is not None and fair.seconds <= bound_s,
        "-" if fair.seconds is None else f"{fair.seconds:.1f} s <= {bound_s:.1f} s",
        timed=True,
    )
