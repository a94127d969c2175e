"""Quota governance measured (issue 9): real worker processes, Postgres, Redis and the emulator.

Parts (``--only NAME``, repeatable; all by default), each printing its figures, ratios measured
in the same run:

* limiter   3 worker hosts x 100 threads against the emulator at 600 RPM and 2 s latency,
            1,500 jobs: share of calls answered 429 and jobs per minute vs the quota, with the
            shared limiter and without it (the baseline)
* fairness  producer A submits 3,000 jobs, then B 30: B's completion time vs
            2 x (30 / its fair share of the quota), and the unfair baseline (B's jobs under
            A's name: one producer, queue order)
* breaker   60 s of 100 % 503 on the jobs' model: calls during the outage, where every job
            finished (after the outage, or on the fallback model when it names one)
* budget    200 jobs at once against a budget of 50 jobs' quoted cost: spend vs budget + the
            quote error in flight; the rest budget_exceeded, nothing sent
* cache     1,000 jobs over 100 distinct images: Gemini calls

    .venv/bin/python bench/quota.py                    # full scale (~15 min on 2 cores)
    .venv/bin/python bench/quota.py --quick            # small and fast, for development
    .venv/bin/python bench/quota.py --only fairness --json figures.json

Everything runs on the fault suite's own servers (bench/faultkit: a redis-server and a Postgres
cluster on free ports, removed at the end); each part gets its own database, an emptied Redis,
its own emulator and its own worker hosts (``imagejobs worker`` processes with the part's
settings). Exit status 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.faultkit.report import ScenarioResult, run_each, summary  # noqa: E402
from bench.faultkit.suite import Suite  # noqa: E402
from bench.quotakit.scale import FULL, QUICK, QuotaScale  # noqa: E402

PARTS = ("limiter", "fairness", "breaker", "budget", "cache")


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through every cleanup


def part_functions() -> dict[str, Callable[[Suite, QuotaScale], ScenarioResult]]:
    """Imported once the suite's environment is set (imagejobs reads it at import)."""
    from bench.quotakit import breaker, budget, cache, fairness, limiter

    return {
        "limiter": limiter.run,
        "fairness": fairness.run,
        "breaker": breaker.run,
        "budget": budget.run,
        "cache": cache.run,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=PARTS, help="run only these parts")
    parser.add_argument("--quick", action="store_true", help="small scale, for development")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the suite folder (worker logs)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    scale = QUICK if args.quick else FULL
    names = args.only or list(PARTS)
    began = time.monotonic()
    with Suite(keep=args.keep) as suite:
        functions = part_functions()
        print(
            f"quota benchmark ({scale.name}): {scale}\nown Redis on port {suite.redis.port}, "
            f"own Postgres on port {suite.postgres.port}; folder {suite.root}",
            flush=True,
        )
        results = run_each(
            names,
            lambda name: functions[name](suite, scale),
            noun="part",
            title_of=lambda _: "(did not finish)",
            scale=scale.name,
            json_path=args.json,
            timed=True,
        )
    return summary("quota benchmark", "parts", results, began)


if __name__ == "__main__":
    sys.exit(main())
