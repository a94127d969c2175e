"""Issue 12's benchmark: every figure of its goals next to its anchor, measured in one run, on
real Postgres, Redis, worker hosts (``imagejobs worker``: a supervisor and its children) and the
emulator in a process of its own.

    .venv/bin/python bench/perf.py                  # everything (about 10 minutes here)
    .venv/bin/python bench/perf.py --quick          # small sizes, for development
    .venv/bin/python bench/perf.py --only cpu       # one section: cpu, throughput, inflight,
                                                    # inflight10, memory or profile
    .venv/bin/python bench/perf.py --only inflight10 --layouts 2x500,1x1000
    .venv/bin/python bench/perf.py --only inflight10 --layouts 2x500 --default-pool

Sections:
  cpu         worker CPU per caption and detect job (1 MP JPEG) / (no-op task + direct call)
  throughput  full jobs/s end to end / no-op Celery tasks/s, latency 0
  inflight    jobs/s / ideal at 2 s latency, 2 processes x 100 threads, 1,000 jobs
  inflight10  peak calls in flight and worker RSS at 10 s latency, one worker host (then the
              first layout at 30 s: can it hold 1,000 at all, whatever its rate)
  memory      peak worker RSS during one job of 500 ~2 MB images (detect and caption)
  profile     cProfile top of run_job in process (caption)

Each run has its own Postgres database and Redis database (tests/services.py), the result cache
off. Needs Postgres on 127.0.0.1:5432 and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import perf_env
from perf_report import Goal, print_goals

SECTIONS = ("cpu", "throughput", "inflight", "inflight10", "memory", "profile")


@dataclass(frozen=True)
class Sizes:
    cpu_jobs: int
    noops: int
    direct_calls: int
    throughput_jobs: int
    inflight_jobs: int
    inflight_layout: tuple[int, int]
    inflight10_jobs: int
    inflight10_layouts: list[tuple[int, int]]
    hold_latency_s: float  # inflight10 again at this latency (0: not)
    memory_images: int
    profile_jobs: int


FULL = Sizes(
    cpu_jobs=300,
    noops=2000,
    direct_calls=400,
    throughput_jobs=400,
    inflight_jobs=1000,
    inflight_layout=(2, 100),
    inflight10_jobs=2000,
    inflight10_layouts=[(2, 500), (1, 1000)],
    hold_latency_s=30.0,
    memory_images=500,
    profile_jobs=100,
)
QUICK = Sizes(
    cpu_jobs=40,
    noops=300,
    direct_calls=80,
    throughput_jobs=100,
    inflight_jobs=200,
    inflight_layout=(2, 50),
    inflight10_jobs=300,
    inflight10_layouts=[(2, 150)],
    hold_latency_s=0.0,
    memory_images=40,
    profile_jobs=20,
)


def layouts(text: str) -> list[tuple[int, int]]:
    """``2x500,1x1000`` → [(2, 500), (1, 1000)] (processes x threads per process)."""
    try:
        pairs = [item.lower().split("x") for item in text.split(",") if item.strip()]
        return [(int(processes), int(threads)) for processes, threads in pairs]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--layouts: expected PROCESSESxTHREADS[,...] such as 2x500,1x1000, got {text!r}"
        ) from None


def sections(
    tmp: Path, sizes: Sizes, *, size_pool: bool = True
) -> dict[str, Callable[[], list[Goal] | None]]:
    import perf_cpu
    import perf_flight
    import perf_memory
    import perf_profile
    import perf_throughput

    processes, threads = sizes.inflight_layout
    return {
        "cpu": lambda: perf_cpu.measure(
            tmp, jobs=sizes.cpu_jobs, noops=sizes.noops, calls=sizes.direct_calls
        ),
        "throughput": lambda: perf_throughput.measure(
            tmp, jobs=sizes.throughput_jobs, noops=sizes.noops
        ),
        "inflight": lambda: perf_flight.at_two_seconds(
            tmp, jobs=sizes.inflight_jobs, processes=processes, threads=threads
        ),
        "inflight10": lambda: perf_flight.at_ten_seconds(
            tmp,
            jobs=sizes.inflight10_jobs,
            layouts=sizes.inflight10_layouts,
            hold_latency_s=sizes.hold_latency_s,
            size_pool=size_pool,
        ),
        "memory": lambda: perf_memory.measure(tmp, images=sizes.memory_images),
        "profile": lambda: perf_profile.measure(tmp, jobs=sizes.profile_jobs),
    }


def main() -> None:
    head, _, rest = (__doc__ or "").partition("\n\n")
    parser = argparse.ArgumentParser(
        description=head, epilog=rest, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=SECTIONS, action="append", help="repeatable")
    parser.add_argument("--quick", action="store_true", help="small sizes, for development")
    parser.add_argument("--layouts", type=layouts, help="inflight10: e.g. 2x500,1x1000")
    parser.add_argument(
        "--default-pool",
        action="store_true",
        help="inflight10: leave IMAGEJOBS_WORKER_CONCURRENCY unset (as `imagejobs worker "
        "--concurrency N` alone runs), so each child's Gemini connection pool keeps its default",
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    if args.layouts:
        sizes = dataclasses.replace(sizes, inflight10_layouts=args.layouts)
    tmp = perf_env.configure()
    print(f"bench/perf.py{' --quick' if args.quick else ''}: {perf_env.machine_line()}")
    started = time.monotonic()
    goals: list[Goal] = []
    broken = []
    for name, run in sections(tmp, sizes, size_pool=not args.default_pool).items():
        if args.only and name not in args.only:
            continue
        try:
            goals += run() or []
        except Exception:
            broken.append(name)
            print(f"\n[{name}] FAILED:\n{traceback.format_exc()}")
    print_goals(goals)
    for name in broken:
        print(f"  section {name} failed (its error is printed above)")
    minutes = (time.monotonic() - started) / 60
    print(f"\n{minutes:.1f} min; load average at the end {perf_env.load_average()}")


if __name__ == "__main__":
    main()
