"""Fault-injection suite: real workers, a real broker and a real database, broken on purpose.

Scenarios (``--scenario NAME``, repeatable; all by default):

* worker_kill       a worker host SIGKILLed mid-call; its jobs are taken over after the lease
* redis_wipe        the broker killed and restarted empty, mid-run and with threads idle
                    (default lease of 600 s)
* postgres_restart  Postgres restarted while finishing writes are in progress
* storm_429         most Gemini calls answer 429 with retryDelay for a window
* poison            a corrupt image and an answer cut short among good jobs

Each prints jobs submitted, done, lost, duplicate result sets, Gemini calls minus jobs (from the
emulator's /_emulator/stats), time to drain, and its own figures, then PASS/FAIL per check.
Invariants (0 lost, 0 duplicates, …) are what tests/faults asserts on the short form; timed
targets (e.g. done within 20 s of Redis coming back) are figures only there.

    .venv/bin/python bench/faults.py                 # short form (what CI runs), ~1-2 min
    .venv/bin/python bench/faults.py --full          # hundreds of jobs, realistic durations
    .venv/bin/python bench/faults.py --scenario redis_wipe --json figures.json

Everything runs on the suite's own servers: a redis-server and a Postgres cluster (initdb, as
the ``postgres`` OS user when run as root) on free ports, in temporary folders removed at the
end. The shared servers on 6379 and 5432 are never touched. Exit status 0 when every check of
every scenario passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.faultkit.catalog import SCENARIOS  # noqa: E402
from bench.faultkit.report import run_each, summary  # noqa: E402
from bench.faultkit.suite import Suite  # noqa: E402


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through every cleanup below


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="hundreds of jobs (default: short)")
    parser.add_argument(
        "--scenario", action="append", choices=list(SCENARIOS), help="run only these"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--work-dir", type=Path, help="suite folder (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the suite folder (worker logs)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    names = args.scenario or list(SCENARIOS)
    began = time.monotonic()
    with Suite(args.work_dir, keep=args.keep) as suite:
        # Only now, with the environment pointing at the own servers, is imagejobs imported.
        from bench.faultkit.run import FULL, SHORT
        from bench.faultkit.scenarios import SCENARIO_FUNCTIONS

        scale = FULL if args.full else SHORT
        print(
            f"fault suite ({scale.name}): own Redis on port {suite.redis.port}, own Postgres "
            f"on port {suite.postgres.port}; folder {suite.root}",
            flush=True,
        )
        results = run_each(
            names,
            lambda name: SCENARIO_FUNCTIONS[name](suite, scale),
            noun="scenario",
            title_of=SCENARIOS.__getitem__,
            scale=scale.name,
            json_path=args.json,
        )
    return summary("fault suite", "scenarios", results, began)


if __name__ == "__main__":
    sys.exit(main())
