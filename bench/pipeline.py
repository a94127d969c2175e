"""Whole-pipeline benchmarks on real Postgres, Redis, a Celery worker process and the emulator.

Two measurements, each printed with the figures it is made of (ratios measured in one run):

* throughput: full caption jobs per second (submit → Postgres → Redis → worker → emulator →
  Postgres) next to a no-op Celery task on the same broker and worker, and their ratio;
* in flight: with the emulator answering after 2 s, how many Gemini calls one worker host keeps
  in flight and how its jobs/s compares with the ideal (concurrency / latency).

    .venv/bin/python bench/pipeline.py               # both
    .venv/bin/python bench/pipeline.py --jobs 600 --concurrency 200 --latency 2

Needs Postgres on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (scripts/test.sh starts them).

bench/perf.py prints every figure of issue 12's goals with its anchor (CPU per job against a
no-op task and a direct SDK call, calls in flight and RSS at 10 s latency, memory of a large
job, the profile of run_job).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.services import claim_redis_db, database_name, fresh_database  # noqa: E402

BENCH_BROKER_URL = claim_redis_db()  # this run's own Redis database and Postgres database
_tmp = Path(tempfile.mkdtemp(prefix="imagejobs-bench-"))
os.environ.update(
    {
        "IMAGEJOBS_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{database_name('bench')}",
        "IMAGEJOBS_BROKER_URL": BENCH_BROKER_URL,
        "IMAGEJOBS_BLOB_DIR": str(_tmp / "blobs"),
        "IMAGEJOBS_DATA_DIR": str(_tmp / "data"),
        # Every job of a batch has the same image: without this they are answered from the
        # result cache instead of calling Gemini.
        "IMAGEJOBS_RESULT_CACHE_TTL_S": "0",
    }
)

import redis  # noqa: E402

from imagejobs.broker.names import NOOP, QUEUE, RUN_JOB  # noqa: E402
from imagejobs.broker.queue import JobQueue  # noqa: E402
from imagejobs.core.jobspec import JobSpec  # noqa: E402
from imagejobs.emulator import EmulatorServer  # noqa: E402
from imagejobs.emulator.scenes import random_scene  # noqa: E402
from imagejobs.runtime import Runtime  # noqa: E402
from imagejobs.settings import get_settings  # noqa: E402
from imagejobs.store.db import session_scope  # noqa: E402
from imagejobs.store.migrate import migrate  # noqa: E402
from imagejobs.store.models import Job  # noqa: E402
from imagejobs.submission import ImageInput, submit_job  # noqa: E402
from tests.services import WorkerProcess  # noqa: E402


def submit_many(n: int, image: bytes, *, enqueue: bool = True) -> list[str]:
    runtime = Runtime.from_settings(get_settings())
    spec = JobSpec(task="caption")
    return [
        submit_job(runtime, spec, [ImageInput(data=image)], enqueue=enqueue).job_id
        for _ in range(n)
    ]


def send_all(job_ids: list[str]) -> None:
    app = JobQueue(get_settings()).celery
    for job_id in job_ids:
        app.send_task(RUN_JOB, args=[job_id], queue=QUEUE)


def wait_all(job_ids: list[str], timeout_s: float = 600.0) -> float:
    """Wait until every job is final; returns the moment the last one finished."""
    from sqlalchemy import func, select

    url = get_settings().effective_database_url
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with session_scope(url) as session:
            done = session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.id.in_(job_ids), Job.status.in_(("succeeded", "failed")))
            )
        if done == len(job_ids):
            return time.monotonic()
        time.sleep(0.05)
    raise TimeoutError(f"jobs not done after {timeout_s} s")


def drain_noop(n: int) -> float:
    """Send ``n`` no-op tasks; wait until the broker holds none, queued or unacknowledged."""
    client = redis.Redis.from_url(get_settings().effective_broker_url)
    app = JobQueue(get_settings()).celery
    started = time.monotonic()
    for _ in range(n):
        app.send_task(NOOP, queue=QUEUE)
    while True:
        queued = sum(client.llen(key) for key in client.scan_iter(f"{QUEUE}*"))
        if queued == 0 and client.hlen("unacked") == 0:
            return time.monotonic() - started
        time.sleep(0.02)


def cpu_seconds(root_pid: int) -> float:
    """User + system CPU time of a process and its children (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [root_pid]
    children = Path(f"/proc/{root_pid}/task/{root_pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def start(concurrency: int, emulator: EmulatorServer, processes: int = 1) -> WorkerProcess:
    worker = WorkerProcess(
        {
            "IMAGEJOBS_GEMINI_BASE_URL": emulator.base_url,
            # The benchmark sends the messages itself; the sweeper stays out of the way.
            "IMAGEJOBS_SWEEP_INTERVAL_S": "3600",
        },
        _tmp / f"worker-{concurrency}-{time.monotonic_ns()}.log",
        concurrency=concurrency,
        processes=processes,
    )
    worker.start()
    return worker


def throughput(jobs: int, concurrency: int, processes: int) -> None:
    image = random_scene(7, 64, 64, 2).encode("PNG")
    with EmulatorServer() as emulator:
        worker = start(concurrency, emulator, processes)
        try:
            submit_many(5, image)  # warm up connections and the Gemini client
            time.sleep(2)
            started = time.monotonic()
            ids = submit_many(jobs, image)
            submitted = time.monotonic()
            finished = wait_all(ids)
            noop_s = drain_noop(jobs)
        finally:
            worker.stop()
    job_rate = jobs / (finished - started)
    noop_rate = jobs / noop_s
    print(
        f"throughput: {jobs} caption jobs, {processes} worker processes x "
        f"{concurrency // processes} threads, emulator latency 0"
    )
    print(f"  submit (store + commit + enqueue): {jobs / (submitted - started):8.1f} jobs/s")
    print(f"  full jobs end to end:              {job_rate:8.1f} jobs/s")
    print(f"  no-op Celery task, same broker:    {noop_rate:8.1f} tasks/s")
    print(f"  ratio full job / no-op:            {job_rate / noop_rate:8.3f}")


def in_flight(jobs: int, concurrency: int, latency: float, processes: int = 1) -> None:
    image = random_scene(8, 64, 64, 2).encode("PNG")
    with EmulatorServer(latency_s=latency) as emulator:
        workers = [start(concurrency, emulator, processes)]
        try:
            submit_many(3, image)
            time.sleep(latency + 2)
            ids = submit_many(jobs, image, enqueue=False)  # committed, not yet sent
            emulator.control.reset()
            emulator.control.set_faults(latency_s=latency)
            assert workers[0].proc is not None
            cpu_before = cpu_seconds(workers[0].proc.pid)
            started = time.monotonic()
            send_all(ids)
            finished = wait_all(ids)
            worker_cpu = cpu_seconds(workers[0].proc.pid) - cpu_before
            stats = emulator.control.stats()
        finally:
            for worker in workers:
                worker.stop()
    wall = finished - started
    ideal_rate = min(jobs, concurrency) / latency
    rate = jobs / wall
    print(
        f"in flight: {jobs} jobs committed, then their ids sent at once; {processes} worker "
        f"processes x {concurrency // processes} threads, emulator latency {latency} s"
    )
    print(f"  Gemini calls in flight (max seen by the emulator): {stats['max_in_flight']}")
    print(f"  jobs/s measured: {rate:.1f}   ideal (threads / latency): {ideal_rate:.1f}")
    print(f"  efficiency: {rate / ideal_rate:.2f}   wall time: {wall:.1f} s")
    print(f"  mean calls in flight (jobs/s x latency): {rate * latency:.0f}")
    per_job_ms = worker_cpu / jobs * 1000
    cores = os.cpu_count() or 1
    dedicated = cores / (worker_cpu / jobs)
    print(
        f"  worker CPU per job: {per_job_ms:.1f} ms; the emulator, Postgres, Redis and this "
        f"script share the same {cores} cores here"
    )
    print(
        f"  a dedicated {cores}-core worker host: ~{dedicated:.0f} jobs/s, "
        f"~{min(dedicated * latency, concurrency):.0f} calls in flight at {latency} s latency"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--latency", type=float, default=2.0)
    parser.add_argument("--processes", type=int, default=2, help="worker processes (cores)")
    parser.add_argument("--only", choices=("throughput", "inflight"))
    args = parser.parse_args()
    migrate(fresh_database("bench"))
    if args.only in (None, "throughput"):
        throughput(args.jobs, 32, args.processes)
    if args.only in (None, "inflight"):
        in_flight(args.jobs, args.concurrency, args.latency, args.processes)


if __name__ == "__main__":
    main()
