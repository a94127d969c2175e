"""Full jobs per second end to end against no-op Celery tasks per second, same broker and worker,
emulator latency 0.

End to end: one producer thread submits caption jobs (store the image, commit the job, enqueue)
while the worker runs them; the clock stops when Postgres shows the last one final. The no-op
tasks are sent by the same thread and are done when the broker holds none, queued or unacked.
The worker side alone (jobs committed beforehand, their messages sent at once) is printed too.
"""

from __future__ import annotations

import time
from pathlib import Path

from perf_emulator import EmulatorProcess
from perf_images import tiny_png
from perf_jobs import (
    drain_noop,
    outcome_line,
    send,
    service_pids,
    start_worker,
    submit,
    submit_and_send,
    wait_final,
    worker_pid,
)
from perf_procs import CpuMeter
from perf_report import Goal, cpu_line

from imagejobs.submission import ImageInput

PROCESSES, THREADS = 2, 16


def measure(tmp: Path, *, jobs: int, noops: int) -> list[Goal]:
    image = tiny_png()
    print(
        f"\n[throughput] {PROCESSES} worker processes x {THREADS} threads, emulator latency 0, "
        f"caption of a {len(image)} B PNG"
    )
    with EmulatorProcess(tmp / "emulator-throughput.log") as emulator:
        worker = start_worker(tmp, emulator.base_url, processes=PROCESSES, threads=THREADS)
        try:
            wait_final(submit_and_send("caption", image, 40), timeout_s=120)  # warm
            drain_noop(200)
            meter = CpuMeter(
                {"worker": worker_pid(worker), "emulator": emulator.pid, **service_pids()}
            )
            meter.start()
            started = time.monotonic()
            ids = submit_and_send("caption", image, jobs)
            submit_rate = jobs / (time.monotonic() - started)
            end_to_end = jobs / (wait_final(ids, timeout_s=600) - started)
            job_cpu = meter.stop()
            outcome = outcome_line(ids)
            committed = submit("caption", [ImageInput(data=image)], jobs)
            started = time.monotonic()
            send(committed, "caption")
            worker_side = jobs / (wait_final(committed, timeout_s=600) - started)
            meter.start()
            noop = noops / drain_noop(noops)
            noop_cpu = meter.stop()
        finally:
            worker.stop()
    print(f"  submit (store + commit + enqueue), one thread: {submit_rate:8.1f}/s")
    print(f"  full jobs end to end:                          {end_to_end:8.1f} jobs/s")
    print(f"    jobs: {outcome}")
    print(f"  jobs committed first, messages sent at once:   {worker_side:8.1f} jobs/s")
    print(f"  no-op Celery task, same broker and worker:     {noop:8.1f} tasks/s")
    print(f"  worker side / no-op:                           {worker_side / noop:8.3f}")
    print(f"  {cpu_line('a full job end to end', job_cpu, jobs)}")
    print(f"  {cpu_line('a no-op task', noop_cpu, noops)}")
    return [
        Goal(
            "throughput end to end, latency 0",
            f"{end_to_end:.1f} full jobs/s ({jobs} caption jobs)",
            f"{noop:.1f} no-op Celery tasks/s ({noops} tasks)",
            end_to_end / noop,
            ">= 0.5",
        )
    ]
