"""Worker hosts under faults, each test on a Redis and a database of its own: a killed worker
child is started again; workers ride through Redis restarts; jobs whose messages a wiped Redis
lost are done soon after it is back."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from imagejobs.core.jobspec import JobSpec
from imagejobs.emulator import EmulatorServer
from imagejobs.runtime import Runtime
from imagejobs.settings import Settings, load_settings
from imagejobs.store.db import session_scope
from imagejobs.store.migrate import migrate
from imagejobs.store.models import Job, JobResult
from imagejobs.submission import ImageInput, submit_job
from tests.e2e.test_tasks import scene_a
from tests.own_redis import RedisServer, running_redis
from tests.services import WorkerProcess, fresh_database

pytestmark = pytest.mark.slow


@dataclass
class Host:
    """A worker host's surroundings: its own Redis, database and blob folder."""

    redis: RedisServer
    database: str
    folder: Path
    emulator: EmulatorServer

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "IMAGEJOBS_DATABASE_URL": self.database,
            "IMAGEJOBS_BROKER_URL": self.redis.url,
            "IMAGEJOBS_BLOB_DIR": str(self.folder / "blobs"),
            "IMAGEJOBS_GEMINI_BASE_URL": self.emulator.base_url,
            **extra,
        }

    def settings(self) -> Settings:
        return load_settings(
            database_url=self.database, broker_url=self.redis.url, blob_dir=self.folder / "blobs"
        )

    def submit(self, count: int) -> list[str]:
        """Queued jobs, sent by the host's own sweeper (this test process's app sends elsewhere)."""
        runtime = Runtime.from_settings(self.settings())
        image = scene_a().encode("PNG")
        return [
            submit_job(
                runtime, JobSpec(task="caption"), [ImageInput(data=image)], enqueue=False
            ).job_id
            for _ in range(count)
        ]

    def statuses(self, ids: list[str]) -> dict[str, int]:
        with session_scope(self.database) as session:
            rows = session.execute(
                select(Job.status, func.count()).where(Job.id.in_(ids)).group_by(Job.status)
            ).all()
        return {status: count for status, count in rows}

    def result_sets(self, ids: list[str]) -> int:
        with session_scope(self.database) as session:
            return int(
                session.scalar(
                    select(func.count()).select_from(JobResult).where(JobResult.job_id.in_(ids))
                )
                or 0
            )

    def wait_done(self, ids: list[str], worker: WorkerProcess, timeout_s: float) -> float:
        """Seconds until every job succeeded (fails naming the statuses after ``timeout_s``)."""
        started = time.monotonic()
        while True:
            statuses = self.statuses(ids)
            if statuses.get("succeeded", 0) == len(ids):
                return time.monotonic() - started
            assert time.monotonic() - started < timeout_s, (
                f"after {timeout_s} s: {statuses}\n{worker.log()[-4000:]}"
            )
            time.sleep(0.2)


@pytest.fixture
def host(
    emulator: EmulatorServer, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Host]:
    database = fresh_database(request.node.name.removeprefix("test_")[:30])
    migrate(database)
    emulator.control.reset()
    with running_redis(tmp_path / "redis") as redis:
        yield Host(redis, database, tmp_path, emulator)


def _ready_pid(worker: WorkerProcess, node: str) -> int | None:
    path = worker.ready_dir / node
    try:
        return int(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def test_killed_child_of_a_two_process_worker_is_started_again(host: Host) -> None:
    worker = WorkerProcess(
        host.env(IMAGEJOBS_SWEEP_INTERVAL_S="0.5"), host.folder / "worker.log", 4, processes=2
    )
    worker.start()
    try:
        first = worker.nodes[0]
        pid = _ready_pid(worker, first)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # the OOM killer, say
        deadline = time.monotonic() + 60
        while (_ready_pid(worker, first) in (None, pid)) or not worker.ready():
            assert time.monotonic() < deadline, worker.log()[-4000:]
            assert worker.proc is not None and worker.proc.poll() is None, worker.log()[-4000:]
            time.sleep(0.3)
        assert "worker 1 exited with code -9; restarting" in worker.log()
        ids = host.submit(4)  # and the host still works
        host.wait_done(ids, worker, timeout_s=60)
    finally:
        worker.stop()
    assert worker.log().count("Unrecoverable error") == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for its reaper is gone too
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_workers_die_with_a_supervisor_killed_outright(host: Host) -> None:
    worker = WorkerProcess(host.env(), host.folder / "worker.log", concurrency=2)
    worker.start()
    try:
        child = _ready_pid(worker, worker.nodes[0])
        assert child is not None and _alive(child)
        assert worker.proc is not None
        os.kill(worker.proc.pid, signal.SIGKILL)  # the supervisor, not the child
        worker.proc.wait()
        deadline = time.monotonic() + 20
        while _alive(child):  # no orphan left consuming messages
            assert time.monotonic() < deadline, f"worker child {child} outlived its supervisor"
            time.sleep(0.1)
    finally:
        worker.stop()


def _wait_in_flight(host: Host, worker: WorkerProcess, count: int) -> None:
    deadline = time.monotonic() + 60
    while host.emulator.control.stats()["in_flight"] < count:
        assert time.monotonic() < deadline, worker.log()[-4000:]
        time.sleep(0.1)


def test_workers_ride_through_redis_restarts(host: Host) -> None:
    host.emulator.control.set_faults(latency_s=1.0)
    worker = WorkerProcess(
        host.env(IMAGEJOBS_LEASE_S="10", IMAGEJOBS_SWEEP_INTERVAL_S="0.5"),
        host.folder / "worker.log",
        concurrency=4,
        processes=2,
    )
    worker.start()
    try:
        ids = host.submit(16)
        for _ in range(3):  # with jobs in flight and messages unacknowledged, each time
            _wait_in_flight(host, worker, 2)
            host.redis.restart(down_s=0.3)
            time.sleep(1.5)
        elapsed = host.wait_done(ids, worker, timeout_s=90)
    finally:
        worker.stop()
    log = worker.log()
    print(f"\nthree Redis restarts: 16 jobs done {elapsed:.1f} s after the last one")
    assert "Unrecoverable error" not in log
    assert "exited with code" not in log  # no child died, none had to be started again
    assert host.result_sets(ids) == 16
    assert host.emulator.control.stats()["calls"]["generateContent"] == 16


def test_jobs_a_wiped_redis_lost_are_done_soon_after_it_is_back(host: Host) -> None:
    """With the default lease (600 s) and sweep interval (5 s): before, the lost messages were
    sent again only after max(lease, 60 s)."""
    host.emulator.control.set_faults(latency_s=2.0)
    worker = WorkerProcess(host.env(), host.folder / "worker.log", concurrency=4)
    worker.start()
    try:
        ids = host.submit(12)
        _wait_in_flight(host, worker, 4)  # 4 running; the other 8 wait on the broker
        host.redis.restart(down_s=1.0)  # comes back empty
        elapsed = host.wait_done(ids, worker, timeout_s=60)
    finally:
        worker.stop()
    print(f"\nwiped Redis: 12 jobs done {elapsed:.1f} s after Redis was back")
    assert "the broker lost its messages: sending" in worker.log()
    assert host.result_sets(ids) == 12
    assert host.emulator.control.stats()["calls"]["generateContent"] == 12
