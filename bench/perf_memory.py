"""A worker's resident memory during one job of many ~2 MB images: detect (one call per image,
each inline) and caption (one call with every image: over the inline limit, so through the
Files API).

The images are distinct noisy JPEGs put in the blob store beforehand (the bench never holds
them all); the worker is one process (the supervisor and one child), its tree's VmRSS read
every 0.5 s while the job runs.
"""

from __future__ import annotations

import time
from pathlib import Path

from perf_emulator import EmulatorProcess
from perf_images import noisy_2mb, tiny_png
from perf_jobs import outcome_line, runtime, send, start_worker, submit, wait_final, worker_pid
from perf_procs import Sampler, mb, rss_bytes
from perf_report import Goal

from imagejobs.submission import ImageInput


def store_images(count: int) -> tuple[list[str], int]:
    """``count`` distinct images in the blob store; their sha256 and total size."""
    shas, total = [], 0
    for seed in range(count):
        data = noisy_2mb(seed)
        shas.append(runtime().blobs.put(data))
        total += len(data)
    return shas, total


def measure(tmp: Path, *, images: int) -> list[Goal]:
    shas, total = store_images(images)
    print(
        f"\n[memory] one job of {images} distinct JPEGs of {total / images / 1e6:.2f} MB "
        f"({total / 1e6:,.0f} MB in all); 1 worker process x 4 threads, emulator latency 0"
    )
    inputs = [ImageInput(sha256=sha) for sha in shas]
    goals = []
    with EmulatorProcess(tmp / "emulator-memory.log") as emulator:
        worker = start_worker(tmp, emulator.base_url, processes=1, threads=4)
        try:
            pid = worker_pid(worker)
            warm = submit("detect", [ImageInput(data=tiny_png())], 4)
            send(warm, "detect")
            wait_final(warm, timeout_s=120)
            for task in ("detect", "caption"):
                idle = rss_bytes(pid)
                ids = submit(task, inputs, 1)
                emulator.control.reset()
                with Sampler({"rss": lambda: float(rss_bytes(pid))}) as sampler:
                    started = time.monotonic()
                    send(ids, task)
                    wall = wait_final(ids, timeout_s=1800, poll_s=0.5) - started
                stats = emulator.control.stats()
                peak = sampler.peak("rss")
                print(
                    f"  {task}: worker RSS idle {mb(idle)}, peak {mb(peak)} "
                    f"(+{mb(peak - idle)}), after {mb(rss_bytes(pid))}; {wall:.1f} s; "
                    f"emulator: calls {stats['calls']}, {stats['bytes_inline'] / 1e6:,.0f} MB "
                    f"inline, {stats['bytes_uploaded'] / 1e6:,.0f} MB uploaded"
                )
                print(f"    job: {outcome_line(ids)}")
                goals.append(
                    Goal(
                        f"worker RSS, {task} job of {images} images",
                        f"{mb(peak)} peak (idle worker {mb(idle)})",
                        f"the job's images: {total / 1e6:,.0f} MB",
                        None,
                        None,
                    )
                )
        finally:
            worker.stop()
    return goals
