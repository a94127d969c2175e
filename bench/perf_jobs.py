"""Jobs and tasks for the bench: committed first, their messages sent at once, waited for in
Postgres; no-op Celery tasks drained from Redis; worker hosts started on this run's services."""

from __future__ import annotations

import functools
import re
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis
from sqlalchemy import func, select, text

from cli.worker_process import WorkerProcess
from imagejobs.broker.names import NOOP, QUEUE
from imagejobs.core.jobspec import FINAL_STATUSES, JobSpec
from imagejobs.runtime import Runtime
from imagejobs.settings import get_settings
from imagejobs.store.models import Job
from imagejobs.submission import ImageInput, submit_job

SUBMIT_THREADS = 8


@functools.cache
def runtime() -> Runtime:
    """The bench's own runtime (submitting, waiting, the in-process profile)."""
    return Runtime.from_settings(get_settings())


def submit(task: str, images: list[ImageInput], count: int) -> list[str]:
    """``count`` jobs committed in Postgres, their messages not sent (:func:`send` does)."""
    spec = JobSpec(task=task)

    def one(_: int) -> str:
        return submit_job(runtime(), spec, images, enqueue=False).job_id

    # The first alone: two submissions racing with the same new image both insert its row
    # (store/jobs.create_job checks, then inserts) and one fails on pk_images.
    first = [one(0)] if count else []
    with ThreadPoolExecutor(SUBMIT_THREADS) as pool:
        return first + list(pool.map(one, range(1, count)))


def submit_and_send(task: str, image: bytes, count: int) -> list[str]:
    """``count`` jobs as one producer submits them, one after another: store, commit, enqueue."""
    spec = JobSpec(task=task)
    return [submit_job(runtime(), spec, [ImageInput(data=image)]).job_id for _ in range(count)]


def send(job_ids: Iterable[str], task: str) -> None:
    """Each job's message, as the submission sends it."""
    queue = runtime().queue
    for job_id in job_ids:
        if not queue.enqueue_job(job_id, kind=task):
            raise RuntimeError(f"the broker refused the message of job {job_id}")


_STATUSES = text(
    "SELECT status, count(*) FROM jobs WHERE id = ANY(string_to_array(:ids, ',')) GROUP BY status"
)


def statuses(job_ids: list[str]) -> Counter[str]:
    """How many of the jobs are in each status. The ids go as one text parameter, split by
    Postgres: an IN list of 1,000 placeholders cost this process 20 ms and Postgres 5 ms a
    poll, ten polls a second taken from the two cores the batch it waits for runs on."""
    with runtime().db.session() as session:
        rows = session.execute(_STATUSES, {"ids": ",".join(job_ids)}).all()
    return Counter({status: count for status, count in rows})


def wait_final(job_ids: list[str], timeout_s: float, poll_s: float = 0.1) -> float:
    """Wait until every job is final; returns the moment (monotonic) it was seen."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        counts = statuses(job_ids)
        if sum(counts[status] for status in FINAL_STATUSES) == len(job_ids):
            return time.monotonic()
        time.sleep(poll_s)
    raise TimeoutError(f"jobs not final after {timeout_s:.0f} s: {dict(statuses(job_ids))}")


def outcome_line(job_ids: list[str]) -> str:
    """``1000 succeeded`` or the failures by error code with one message each."""
    counts = statuses(job_ids)
    line = ", ".join(f"{count} {status}" for status, count in counts.most_common())
    with runtime().db.session() as session:
        rows = session.execute(
            select(Job.error_code, func.count(), func.min(Job.error_message))
            .where(Job.id.in_(job_ids), Job.status != "succeeded")
            .group_by(Job.error_code)
        ).all()
    for code, count, message in rows:
        line += f"\n    {count} x {code}: {message}"
    return line


def running_jobs() -> float:
    """Jobs of this run's database that are running now (claimed, lease held)."""
    with runtime().db.session() as session:
        return float(session.scalar(select(func.count()).where(Job.status == "running")) or 0)


def database_connections() -> float:
    """Connections open to this run's database (the workers' pools and the bench's)."""
    with runtime().db.session() as session:
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        return float(session.scalar(text(query)) or 0)


def service_pids() -> dict[str, int]:
    """The Postgres server (its postmaster: the backends are its children) and the Redis
    server this run uses, to read their CPU."""
    with runtime().db.session() as session:
        data_dir = str(session.scalar(text("SHOW data_directory")))
    postmaster = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    client = redis.Redis.from_url(get_settings().effective_broker_url)
    try:
        redis_pid = int(client.info("server")["process_id"])
    finally:
        client.close()
    return {"Postgres": postmaster, "Redis": redis_pid}


def drain_noop(count: int, timeout_s: float = 300.0) -> float:
    """Send ``count`` no-op tasks; seconds until the broker holds none, queued or unacked."""
    client = redis.Redis.from_url(get_settings().effective_broker_url)
    app = runtime().queue.celery
    started = time.monotonic()
    for _ in range(count):
        app.send_task(NOOP, queue=QUEUE)
    deadline = started + timeout_s
    while time.monotonic() < deadline:
        queued = sum(client.llen(key) for key in client.scan_iter(f"{QUEUE}*"))
        if queued == 0 and client.hlen("unacked") == 0:
            return time.monotonic() - started
        time.sleep(0.02)
    raise TimeoutError(f"no-op tasks still queued after {timeout_s:.0f} s")


def start_worker(
    tmp: Path,
    emulator_url: str,
    *,
    processes: int,
    threads: int,
    size_pool: bool = True,
    **env: str,
) -> WorkerProcess:
    """``imagejobs worker --processes P --concurrency P*T`` (a supervisor and P children of T
    threads each). With ``size_pool``, ``IMAGEJOBS_WORKER_CONCURRENCY`` is the host's total too:
    each child sizes its Gemini connection pool from that setting, not from its threads (left
    unset, the pool holds 200 + 16 connections whatever ``--concurrency`` says)."""
    total = processes * threads
    if size_pool:
        env = {"IMAGEJOBS_WORKER_CONCURRENCY": str(total), **env}
    worker = WorkerProcess(
        {"IMAGEJOBS_GEMINI_BASE_URL": emulator_url, **env},
        tmp / f"worker-{processes}x{threads}-{time.monotonic_ns()}.log",
        concurrency=total,
        processes=processes,
    )
    worker.start(timeout_s=120.0)
    return worker


def worker_pid(worker: WorkerProcess) -> int:
    if worker.proc is None:
        raise RuntimeError("the worker is not running")
    return worker.proc.pid


_LEVEL = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback|Error:|Exception:")
_VARYING = re.compile(r"[0-9a-f]{32}|\d[\d.:,-]*")


def log_problems(worker: WorkerProcess, limit: int = 8) -> list[str]:
    """The worker log's warnings and errors, alike lines counted once (ids and numbers blurred),
    each shown by its first occurrence."""
    first: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for line in worker.log().splitlines():
        if not _LEVEL.search(line):
            continue
        key = _VARYING.sub("#", line)
        first.setdefault(key, line.strip())
        counts[key] += 1
    return [f"{counts[key]} x {first[key][:300]}" for key, _ in counts.most_common(limit)]
