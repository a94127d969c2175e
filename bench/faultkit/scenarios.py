"""The five fault scenarios. Each sets up its stage, injects its fault mid-run, waits (bounded)
for its jobs, and returns its figures and checks (see report.py for invariants vs timed
targets)."""

from __future__ import annotations

import time
from collections.abc import Callable

from bench.faultkit.catalog import SCENARIOS
from bench.faultkit.hosts import Host
from bench.faultkit.report import ScenarioResult
from bench.faultkit.run import Scale, ScenarioRun, wait_until
from bench.faultkit.suite import Suite
from bench.faultkit.tally import count_final, count_status, wait_final
from imagejobs.core.jobspec import JobOptions, JobSpec
from imagejobs.emulator.scenes import random_scene

REDIS_TARGET_S = 20.0  # issue 7: wiped jobs done within 20 s of Redis coming back
FAULT_TIMEOUT_S = 60.0  # the longest wait for the moment to inject a fault


def _seconds(start: float, end: float | None) -> float | None:
    return None if end is None else end - start


def _alive(result: ScenarioResult, hosts: list[Host], what: str) -> None:
    states = [host.alive() for host in hosts]
    result.figure(
        f"worker processes alive {what}",
        f"{sum(len(host.pids()) for host in hosts)}/{sum(len(h.started_pids) for h in hosts)}",
    )
    result.check(
        f"workers alive {what} (same processes, answering ping)",
        all(ok for ok, _ in states),
        "; ".join(detail for _, detail in states),
    )


def worker_kill(suite: Suite, scale: Scale) -> ScenarioResult:
    """Two worker hosts; one is SIGKILLed (supervisor and workers) while its calls are in
    flight. Its jobs are running with a lease nobody renews: when the lease expires, the other
    host's sweeper sends them again and they are taken over."""
    result = ScenarioResult("worker_kill", SCENARIOS["worker_kill"], scale.name)
    env = {
        "IMAGEJOBS_LEASE_S": f"{scale.kill_lease_s:g}",
        "IMAGEJOBS_SWEEP_INTERVAL_S": f"{min(scale.sweep_interval_s, 1):g}",
    }
    with ScenarioRun(suite, result, scale, worker_env=env) as run:
        victim, survivor = run.start_hosts(["victim", "survivor"])
        ids = run.submit(run.good_jobs(scale.jobs))
        owners = victim.owners()

        def victim_mid_call() -> bool:
            """Mid-run, and the victim's jobs are at Gemini: every running job's call is in
            flight at the emulator (not still being prepared)."""
            assert run.emulator is not None
            if (count_final(run.db_url, ids) or 0) < scale.jobs // 5:
                return False
            running = count_status(run.db_url, ids, "running")
            mine = count_status(run.db_url, ids, "running", owners)
            return mine >= 2 and run.emulator.control.stats()["in_flight"] >= running

        wait_until(victim_mid_call, FAULT_TIMEOUT_S, "the victim host mid-call")
        killed_at = time.monotonic()
        killed = victim.kill()
        # Counted after the kill: nothing moves these jobs again until their lease expires.
        in_flight = count_status(run.db_url, ids, "running", owners)
        done_before = count_final(run.db_url, ids)
        drained = run.drain()
        counted, extra = run.common_figures()
        result.figure("lease (IMAGEJOBS_LEASE_S)", f"{scale.kill_lease_s:g} s")
        result.figure("processes SIGKILLed (supervisor + workers)", killed)
        result.figure("jobs done at the kill", done_before)
        result.figure("jobs running (calls in flight) on the killed host", in_flight)
        result.figure("time from the kill to all done (s)", _seconds(killed_at, drained))
        result.check("the kill hit jobs in flight", in_flight > 0, f"{in_flight} running")
        result.check(
            "every job succeeded",
            counted.succeeded == counted.submitted,
            f"{counted.succeeded} of {counted.submitted}; failures {dict(counted.errors)}",
        )
        result.check(
            "no Gemini call beyond the ones the kill cut off",
            0 <= extra <= in_flight,
            f"{extra:+d} calls for {in_flight} cut off",
        )
        _alive(result, [survivor], "on the surviving host")
    return result


def redis_wipe(suite: Suite, scale: Scale) -> ScenarioResult:
    """The own Redis is SIGKILLed mid-run (no persistence: every queued and unacknowledged
    message is gone) and started again empty after an outage. Workers run with the default
    lease (600 s): the jobs whose messages were wiped must be found and sent again without
    waiting for it. Then Redis is restarted again while a few jobs run and the other threads
    wait for messages (a BRPOP in flight next to unacknowledged messages: where kombu once
    crashed a worker). Every worker process must ride through both restarts."""
    result = ScenarioResult("redis_wipe", SCENARIOS["redis_wipe"], scale.name)
    env = {"IMAGEJOBS_SWEEP_INTERVAL_S": f"{scale.sweep_interval_s:g}"}  # lease: the default
    with ScenarioRun(suite, result, scale, worker_env=env) as run:
        hosts = run.start_hosts([f"host{index + 1}" for index in range(scale.hosts)])
        ids = run.submit(run.good_jobs(scale.jobs))
        wait_until(
            lambda: (count_final(run.db_url, ids) or 0) >= max(1, scale.jobs // 5),
            FAULT_TIMEOUT_S,
            "a fifth of the jobs done",
        )
        queued = count_status(run.db_url, ids, "queued")
        running = count_status(run.db_url, ids, "running")
        wiped_at = time.monotonic()
        suite.redis.restart_empty(scale.outage_s)
        back_at = time.monotonic()
        drained = run.drain()
        back_to_done = _seconds(back_at, drained)
        # Then the case that once crashed kombu: threads free (a BRPOP waiting) while others
        # run jobs whose messages are unacknowledged. Fewer jobs than threads, all in flight.
        assert run.emulator is not None
        emulator = run.emulator
        later = run.submit(run.good_jobs(max(1, scale.threads // 2), first_seed=scale.jobs))
        wait_until(
            lambda: emulator.control.stats()["in_flight"] >= len(later),
            FAULT_TIMEOUT_S,
            "the later jobs in flight",
        )
        suite.redis.restart_empty(scale.outage_s)
        later_back = time.monotonic()
        later_drained = wait_final(run.db_url, later, scale.drain_timeout_s)
        run.drained = None if drained is None else later_drained
        later_done = f"{count_final(run.db_url, later)}/{len(later)} done" + (
            "" if later_drained is None else f", {later_drained - later_back:.1f} s after"
        )
        run.common_figures()
        result.figure("lease", "default (600 s)")
        result.figure("jobs queued / running at the mid-run wipe", f"{queued} / {running}")
        result.figure("Redis down for (s, each restart)", back_at - wiped_at)
        result.figure("time from Redis back to all jobs done (s)", back_to_done)
        result.figure("restart with threads idle and jobs in flight: jobs", later_done)
        _alive(result, hosts, "after the wipes")
        result.check(
            f"all jobs done within {REDIS_TARGET_S:g} s of Redis coming back",
            back_to_done is not None and back_to_done <= REDIS_TARGET_S,
            "not all done" if back_to_done is None else f"{back_to_done:.1f} s",
            timed=True,
        )
    return result


def postgres_restart(suite: Suite, scale: Scale) -> ScenarioResult:
    """The own Postgres cluster is stopped (fast: connections cut, transactions rolled back)
    while calls are finishing, and started again after an outage. A job whose Gemini answer
    is in hand when its finishing write fails must keep that answer and write it once the
    database is back: no job may be paid twice."""
    result = ScenarioResult("postgres_restart", SCENARIOS["postgres_restart"], scale.name)
    env = {
        "IMAGEJOBS_LEASE_S": f"{scale.pg_lease_s:g}",
        "IMAGEJOBS_SWEEP_INTERVAL_S": f"{min(scale.sweep_interval_s, 1):g}",
    }
    with ScenarioRun(suite, result, scale, worker_env=env) as run:
        hosts = run.start_hosts([f"host{index + 1}" for index in range(scale.hosts)])
        ids = run.submit(run.good_jobs(scale.jobs))
        wait_until(
            lambda: (
                (count_final(run.db_url, ids) or 0) >= max(1, scale.jobs // 5)
                and count_status(run.db_url, ids, "running") > 0
            ),
            FAULT_TIMEOUT_S,
            "a fifth of the jobs done and more running",
        )
        running = count_status(run.db_url, ids, "running")
        calls_before = run.calls()
        stopped_at = time.monotonic()
        suite.postgres.restart(scale.outage_s, mode="fast")
        back_at = time.monotonic()
        answered_while_down = run.calls() - calls_before
        drained = run.drain()
        _, extra = run.common_figures()
        result.figure("lease (IMAGEJOBS_LEASE_S)", f"{scale.pg_lease_s:g} s")
        result.figure("jobs running at the restart", running)
        result.figure("Gemini calls made while Postgres was down", answered_while_down)
        result.figure("Postgres down for (s)", back_at - stopped_at)
        result.figure("time from Postgres back to all jobs done (s)", _seconds(back_at, drained))
        result.check("0 extra Gemini calls (no job paid twice)", extra == 0, f"{extra:+d}")
        _alive(result, hosts, "after the restart")
    return result


def storm_429(suite: Suite, scale: Scale) -> ScenarioResult:
    """For a window, 90% of Gemini calls answer 429 RESOURCE_EXHAUSTED with a RetryInfo
    retryDelay; then the quota is back. Every job must end succeeded (the retries honour the
    delay and the window is shorter than the attempts allow); the 429s are the extra calls."""
    result = ScenarioResult("storm_429", SCENARIOS["storm_429"], scale.name)
    rate = 0.9
    env = {"IMAGEJOBS_SWEEP_INTERVAL_S": f"{min(scale.sweep_interval_s, 1):g}"}
    faults = {"latency_s": scale.latency_s / 3, "jitter_s": scale.jitter_s / 3}
    with ScenarioRun(suite, result, scale, faults=faults, worker_env=env) as run:
        run.start_hosts([f"host{index + 1}" for index in range(scale.hosts)])
        assert run.emulator is not None
        run.emulator.control.set_faults(rate_429=rate, retry_delay_s=scale.storm_retry_delay_s)
        storm_from = time.monotonic()
        run.submit(run.good_jobs(scale.jobs))
        time.sleep(max(0.0, storm_from + scale.storm_window_s - time.monotonic()))
        run.emulator.control.set_faults(rate_429=0)
        storm_to = time.monotonic()
        drained = run.drain()
        counted, extra = run.common_figures()
        result.figure(
            "storm",
            f"{rate:.0%} of calls 429 for {storm_to - storm_from:.1f} s, "
            f"retryDelay {scale.storm_retry_delay_s:g} s",
        )
        result.figure("429 answers (the extra calls)", extra)
        result.figure("time from the storm's end to all jobs done (s)", _seconds(storm_to, drained))
        result.check(
            "every job succeeded, none failed",
            counted.succeeded == counted.submitted,
            f"{counted.failed} failed: {dict(counted.errors)}",
        )
    return result


def poison(suite: Suite, scale: Scale) -> ScenarioResult:
    """Poison jobs among good ones: a truncated JPEG (it must fail as image_corrupt, before
    Gemini is paid for it) and a detection whose answer is cut off at max output tokens (the
    parser cannot read it: output_truncated). Good jobs all succeed; no worker dies."""
    result = ScenarioResult("poison", SCENARIOS["poison"], scale.name)
    env = {"IMAGEJOBS_SWEEP_INTERVAL_S": f"{min(scale.sweep_interval_s, 1):g}"}
    with ScenarioRun(suite, result, scale, worker_env=env) as run:
        hosts = run.start_hosts([f"host{index + 1}" for index in range(scale.hosts)])
        good = run.good_jobs(scale.jobs)
        jpeg = random_scene(991, scale.image_side, scale.image_side * 3 // 4, 3).encode("JPEG")
        corrupt = [(JobSpec(task="caption"), jpeg[: len(jpeg) * 2 // 3])] * scale.poison_each
        cut_short = [
            (JobSpec(task="detect", options=JobOptions(max_output_tokens=8)), run.scene(seed))
            for seed in range(500, 500 + scale.poison_each)
        ]
        half = len(good) // 2
        good_ids = run.submit(good[:half])
        corrupt_ids = run.submit(corrupt)
        cut_ids = run.submit(cut_short)
        good_ids += run.submit(good[half:])
        run.drain()
        counted, extra = run.common_figures()
        good_ok = sum(1 for job_id in good_ids if counted.statuses.get(job_id) == "succeeded")

        def codes(ids: list[str]) -> list[str]:
            return sorted({f"{counted.statuses.get(i)}: {counted.codes.get(i)}" for i in ids})

        corrupt_codes = codes(corrupt_ids)
        cut_codes = codes(cut_ids)
        result.figure("good jobs succeeded", f"{good_ok}/{len(good_ids)}")
        result.figure("truncated JPEG jobs ended", ", ".join(corrupt_codes))
        result.figure("answers cut short ended", ", ".join(cut_codes))
        result.figure("Gemini calls paid for the truncated JPEGs", extra + len(corrupt_ids))
        result.check("every good job succeeded", good_ok == len(good_ids), f"{good_ok}")
        result.check(
            "a truncated JPEG fails as image_corrupt",
            corrupt_codes == ["failed: image_corrupt"],
            ", ".join(corrupt_codes),
        )
        result.check(
            "an answer cut short fails as output_truncated",
            cut_codes == ["failed: output_truncated"],
            ", ".join(cut_codes),
        )
        _alive(result, hosts, "after the poison")
    return result


SCENARIO_FUNCTIONS: dict[str, Callable[[Suite, Scale], ScenarioResult]] = {
    "worker_kill": worker_kill,
    "redis_wipe": redis_wipe,
    "postgres_restart": postgres_restart,
    "storm_429": storm_429,
    "poison": poison,
}
