"""Worker CPU per job (caption and detect on a 1 MP JPEG) next to its anchors: a no-op Celery
task on the same broker and worker, and a direct google-genai ``generate_content`` call against
the same emulator.

The worker's CPU is read from /proc over its whole process tree (the supervisor and its child)
around a steady batch: jobs committed first, their messages sent at once, the batch over when
Postgres shows every job final. The tree's idle CPU over the same duration, measured right
after, is subtracted. The emulator runs in a process of its own (not counted).
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from perf_emulator import EmulatorProcess
from perf_images import photo_1mp
from perf_jobs import (
    drain_noop,
    outcome_line,
    send,
    start_worker,
    submit,
    wait_final,
    worker_pid,
)
from perf_procs import cpu_seconds, idle_cpu
from perf_report import Goal, ms

from imagejobs.settings import get_settings
from imagejobs.submission import ImageInput

THREADS = 16
ROUNDS = 3  # each figure is the median of this many batches
GOAL = "<= 1.5"
HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Batch:
    count: int
    busy_cpu_s: float  # the tree's CPU over the batch
    idle_cpu_s: float  # the tree's CPU doing nothing for as long
    wall_s: float
    rounds: str = ""  # every round's figure, when this is the median of several

    @property
    def per_item_s(self) -> float:
        return (self.busy_cpu_s - self.idle_cpu_s) / self.count

    def line(self) -> str:
        line = (
            f"{ms(self.per_item_s)} each ({self.count} in {self.wall_s:.1f} s; tree CPU "
            f"{self.busy_cpu_s:.2f} s minus idle {self.idle_cpu_s:.2f} s)"
        )
        return f"{line}, median of {self.rounds}" if self.rounds else line


def median_batch(batches: list[Batch]) -> Batch:
    """The batch of median CPU per item, with the spread of all of them in its line."""
    ordered = sorted(batches, key=lambda batch: batch.per_item_s)
    middle = ordered[len(ordered) // 2]
    spread = ", ".join(ms(batch.per_item_s) for batch in batches)
    return dataclasses.replace(middle, rounds=spread)


def job_batch(pid: int, task: str, image: bytes, count: int) -> tuple[Batch, str]:
    ids = submit(task, [ImageInput(data=image)], count)
    before, started = cpu_seconds(pid), time.monotonic()
    send(ids, task)
    finished = wait_final(ids, timeout_s=600)
    busy = cpu_seconds(pid) - before
    wall = finished - started
    return Batch(count, busy, idle_cpu(pid, wall), wall), outcome_line(ids)


def noop_batch(pid: int, count: int) -> Batch:
    before = cpu_seconds(pid)
    wall = drain_noop(count)
    busy = cpu_seconds(pid) - before
    return Batch(count, busy, idle_cpu(pid, wall), wall)


def direct_call(base_url: str, image_path: Path, task: str, calls: int) -> float:
    """Client CPU seconds of one direct SDK call (in a process of its own)."""
    command = [sys.executable, str(HERE / "perf_direct.py"), "--base-url", base_url]
    command += ["--image", str(image_path), "--task", task, "--model", get_settings().model]
    command += ["--calls", str(calls), "--threads", str(THREADS)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"direct google-genai calls failed:\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return float(figures["cpu_s"]) / int(figures["calls"])


def measure(tmp: Path, *, jobs: int, noops: int, calls: int) -> list[Goal]:
    image = photo_1mp()
    image_path = tmp / "photo-1mp.jpg"
    image_path.write_bytes(image)
    print(
        f"\n[cpu] worker CPU per job: 1 worker process x {THREADS} threads, emulator latency 0, "
        f"a {len(image) // 1000} KB 1000x1000 JPEG"
    )
    with EmulatorProcess(tmp / "emulator-cpu.log") as emulator:
        worker = start_worker(tmp, emulator.base_url, processes=1, threads=THREADS)
        try:
            pid = worker_pid(worker)
            for task in ("caption", "detect"):  # warm: connections, lazy imports, caches
                job_batch(pid, task, image, THREADS * 2)
            noop_batch(pid, THREADS * 4)
            rounds: dict[str, list[Batch]] = {"noop": [], "caption": [], "detect": []}
            for _ in range(ROUNDS):  # interleaved, so a slow moment does not hit one kind only
                rounds["noop"].append(noop_batch(pid, noops))
                for task in ("caption", "detect"):
                    batch, outcome = job_batch(pid, task, image, jobs)
                    rounds[task].append(batch)
                    if outcome != f"{jobs} succeeded":
                        raise RuntimeError(f"{task} jobs did not all succeed: {outcome}")
            noop = median_batch(rounds["noop"])
            print(f"  no-op Celery task:  {noop.line()}")
            batches = {task: median_batch(rounds[task]) for task in ("caption", "detect")}
            for task, batch in batches.items():
                print(f"  {task} job: {batch.line()}")
        finally:
            worker.stop()
        direct = {
            task: statistics.median(
                direct_call(emulator.base_url, image_path, task, calls) for _ in range(ROUNDS)
            )
            for task in batches
        }
    goals = []
    for task, batch in batches.items():
        anchor = noop.per_item_s + direct[task]
        print(
            f"  direct generate_content ({task} request, {THREADS} threads, {calls} calls): "
            f"{ms(direct[task])} client CPU each"
        )
        goals.append(
            Goal(
                f"worker CPU per {task} job",
                ms(batch.per_item_s),
                f"no-op task {ms(noop.per_item_s)} + direct call {ms(direct[task])} = {ms(anchor)}",
                batch.per_item_s / anchor,
                GOAL,
            )
        )
    return goals
