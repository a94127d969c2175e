"""Calls in flight on one worker host with the emulator answering after L seconds.

The jobs are committed first, then every message is sent at once; the batch is over when
Postgres shows every job final. Every 0.5 s a sampler reads the emulator's calls in flight, the
worker tree's resident memory and open files, the running jobs and the connections to this
run's database; the emulator's own ``max_in_flight`` is the exact peak. After it, the jobs'
claim and end times say where the time went (:mod:`perf_timeline`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from perf_emulator import EmulatorProcess
from perf_env import load_average
from perf_images import tiny_png
from perf_jobs import (
    database_connections,
    log_problems,
    outcome_line,
    running_jobs,
    send,
    service_pids,
    start_worker,
    submit,
    wait_final,
    worker_pid,
)
from perf_procs import CpuMeter, Sampler, mb, open_files, rss_bytes
from perf_report import Goal, cpu_line
from perf_timeline import Timeline, timeline

from imagejobs.submission import ImageInput

ONE_GB = 1e9


@dataclass
class Run:
    """What one batch at one latency and layout measured."""

    latency_s: float
    processes: int
    threads: int
    jobs: int
    wall_s: float = float("nan")
    max_in_flight: int = 0
    peaks: dict[str, float] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)  # by process: worker, emulator, ...
    outcome: str = ""
    timeline: Timeline | None = None  # where the time went (a finished batch)
    problems: list[str] = field(default_factory=list)
    broke: str | None = None  # why the batch did not finish

    @property
    def layout(self) -> str:
        plural = "es" if self.processes > 1 else ""
        return f"{self.processes} process{plural} x {self.threads} threads"

    @property
    def rate(self) -> float:
        return self.jobs / self.wall_s

    @property
    def ideal(self) -> float:
        return min(self.jobs, self.processes * self.threads) / self.latency_s


def batch(
    tmp: Path,
    *,
    latency_s: float,
    processes: int,
    threads: int,
    jobs: int,
    size_pool: bool = True,
) -> Run:
    run = Run(latency_s, processes, threads, jobs)
    image = [ImageInput(data=tiny_png())]
    with EmulatorProcess(tmp / f"emulator-{latency_s}.log", latency_s=latency_s) as emulator:
        worker = start_worker(
            tmp, emulator.base_url, processes=processes, threads=threads, size_pool=size_pool
        )
        try:
            pid = worker_pid(worker)
            warm = submit("caption", image, processes * 4)
            send(warm, "caption")
            wait_final(warm, timeout_s=latency_s * 4 + 60)
            ids = submit("caption", image, jobs)
            emulator.control.reset()  # max_in_flight counts from here
            probes = {
                "in flight (sampled)": lambda: float(emulator.control.stats()["in_flight"]),
                "worker RSS": lambda: float(rss_bytes(pid)),
                "worker open files": lambda: float(open_files(pid)),
                "running jobs": running_jobs,
                "database connections": database_connections,
            }
            meter = CpuMeter({"worker": pid, "emulator": emulator.pid, **service_pids()})
            meter.start()
            with Sampler(probes) as sampler:
                started = time.monotonic()
                send(ids, "caption")
                try:
                    run.wall_s = wait_final(ids, timeout_s=jobs / run.ideal * 4 + 120) - started
                except TimeoutError as exc:
                    run.broke = str(exc)
            run.cpu_s = meter.stop()
            run.max_in_flight = int(emulator.control.stats()["max_in_flight"])
            run.peaks = dict(sampler.peaks)
            run.problems = [f"sampler {k}: {v}" for k, v in sampler.errors.items()]
            run.outcome = outcome_line(ids)
            if run.broke is None:
                run.timeline = timeline(ids, processes * threads, run.wall_s)
            run.problems += log_problems(worker)
        finally:
            worker.stop()
    return run


def report(run: Run) -> None:
    print(
        f"  {run.layout} = {run.processes * run.threads} threads, {run.jobs} jobs, "
        f"latency {run.latency_s} s"
    )
    print(f"    Gemini calls in flight, peak (emulator max_in_flight): {run.max_in_flight}")
    for name, value in run.peaks.items():
        shown = mb(value) if name == "worker RSS" else f"{value:.0f}"
        print(f"    peak {name}: {shown}")
    if run.broke is None:
        print(
            f"    jobs/s {run.rate:.1f}, ideal {run.ideal:.1f} (threads / latency), "
            f"efficiency {run.rate / run.ideal:.2f}, wall {run.wall_s:.1f} s, "
            f"mean in flight {run.rate * run.latency_s:.0f}"
        )
    else:
        print(f"    BROKE: {run.broke}")
    worker_cpu_s = run.cpu_s.get("worker", float("nan"))
    print(
        f"    worker {worker_cpu_s / run.wall_s:.2f} cores on average, all processes "
        f"{sum(run.cpu_s.values()) / run.wall_s:.2f}; load average after {load_average()}"
    )
    print(f"    {cpu_line('a job', run.cpu_s, run.jobs)}")
    print(f"    jobs: {run.outcome}")
    for line in run.timeline.lines(run.latency_s) if run.timeline else []:
        print(f"    {line}")
    for line in run.problems:
        print(f"    worker log: {line}")


def at_two_seconds(tmp: Path, *, jobs: int, processes: int, threads: int) -> list[Goal]:
    print("\n[inflight] jobs/s against the ideal at 2 s emulator latency")
    run = batch(tmp, latency_s=2.0, processes=processes, threads=threads, jobs=jobs)
    report(run)
    if run.broke is not None:
        return []
    return [
        Goal(
            f"jobs/s at 2 s latency, {run.layout}",
            f"{run.rate:.1f} jobs/s ({run.jobs} jobs in {run.wall_s:.1f} s)",
            f"ideal {run.ideal:.1f} jobs/s ({run.processes * run.threads} threads / 2 s)",
            run.rate / run.ideal,
            ">= 0.9",
        )
    ]


def at_ten_seconds(
    tmp: Path,
    *,
    jobs: int,
    layouts: list[tuple[int, int]],
    hold_latency_s: float = 0.0,
    size_pool: bool = True,
) -> list[Goal]:
    """The goal at 10 s; then, when ``hold_latency_s`` is set, the first layout again at that
    longer latency: can the host hold 1,000 calls at all, whatever the rate it claims jobs at?
    ``size_pool``: see :func:`perf_jobs.start_worker`."""
    pool = "" if size_pool else ", IMAGEJOBS_WORKER_CONCURRENCY left at its default"
    print(f"\n[inflight10] one worker host at 10 s emulator latency{pool}")
    goals = []
    for processes, threads in layouts:
        run = batch(
            tmp,
            latency_s=10.0,
            processes=processes,
            threads=threads,
            jobs=jobs,
            size_pool=size_pool,
        )
        report(run)
        rss = run.peaks.get("worker RSS", float("nan"))
        goals.append(
            Goal(
                f"calls in flight at 10 s, {run.layout}",
                f"{run.max_in_flight} at once (emulator's peak)",
                "1,000 calls in flight",
                run.max_in_flight / 1000,
                ">= 1",
            )
        )
        goals.append(
            Goal(
                f"worker RSS at 10 s, {run.layout}",
                f"{mb(rss)} peak (supervisor + children, VmRSS every 0.5 s)",
                "1 GB",
                rss / ONE_GB,
                "<= 1",
            )
        )
    if hold_latency_s and layouts:
        processes, threads = layouts[0]
        print(f"  the same host at {hold_latency_s:.0f} s latency (holding, not rate):")
        held = batch(
            tmp,
            latency_s=hold_latency_s,
            processes=processes,
            threads=threads,
            jobs=jobs,
            size_pool=size_pool,
        )
        report(held)
    return goals
