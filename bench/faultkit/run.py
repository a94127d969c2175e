"""One scenario's stage: its own database on the suite's cluster, the emptied own Redis, an
in-process emulator, worker hosts, job submission through the real path, and the figures every
scenario prints."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.faultkit.hosts import Host
from bench.faultkit.report import ScenarioResult
from bench.faultkit.suite import Suite
from bench.faultkit.tally import Tally, tally, wait_final
from imagejobs.core.jobspec import JobSpec
from imagejobs.emulator import EmulatorServer
from imagejobs.emulator.scenes import random_scene
from imagejobs.runtime import Runtime
from imagejobs.settings import load_settings
from imagejobs.store.db import dispose_all
from imagejobs.store.migrate import migrate
from imagejobs.submission import ImageInput, submit_job


@dataclass(frozen=True)
class Scale:
    """How big a run is: ``short`` (tens of jobs, seconds; what CI runs) or ``full``."""

    name: str
    jobs: int
    hosts: int  # worker hosts (``imagejobs worker`` each)
    processes: int  # worker processes per host
    threads: int  # threads per worker process
    latency_s: float  # emulator answer time, plus up to ``jitter_s``
    jitter_s: float
    image_side: int  # scenes are image_side x (3/4 image_side)
    drain_timeout_s: float  # how long a scenario waits for its jobs before counting them lost
    outage_s: float  # how long Redis or Postgres stays down
    kill_lease_s: float  # IMAGEJOBS_LEASE_S of the worker-kill scenario
    pg_lease_s: float  # IMAGEJOBS_LEASE_S of the Postgres-restart scenario (above any call)
    sweep_interval_s: float
    storm_window_s: float
    storm_retry_delay_s: float
    poison_each: int  # poison jobs of each kind


SHORT = Scale(
    name="short",
    jobs=24,
    hosts=1,
    processes=1,
    threads=4,
    latency_s=0.6,
    jitter_s=0.6,
    image_side=96,
    drain_timeout_s=45,
    outage_s=2,
    kill_lease_s=3,
    pg_lease_s=10,
    sweep_interval_s=0.5,
    storm_window_s=3,
    storm_retry_delay_s=1,
    poison_each=1,
)

FULL = Scale(
    name="full",
    jobs=300,
    hosts=2,
    processes=2,
    threads=25,
    latency_s=2.0,
    jitter_s=2.0,
    image_side=320,
    drain_timeout_s=240,
    outage_s=5,
    kill_lease_s=15,
    pg_lease_s=60,
    sweep_interval_s=5,
    storm_window_s=20,
    storm_retry_delay_s=5,
    poison_each=5,
)


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s} s")
        time.sleep(0.1)


class ScenarioRun:
    def __init__(
        self,
        suite: Suite,
        result: ScenarioResult,
        scale: Scale,
        *,
        faults: dict[str, Any] | None = None,
        worker_env: dict[str, str] | None = None,
    ) -> None:
        self.suite = suite
        self.result = result
        self.scale = scale
        self.folder: Path = suite.root / result.name
        self.faults = {"latency_s": scale.latency_s, "jitter_s": scale.jitter_s, **(faults or {})}
        self.worker_env = worker_env or {}
        self.hosts: list[Host] = []
        self.emulator: EmulatorServer | None = None
        self.db_url = ""
        self.job_ids: list[str] = []
        self.started = 0.0  # first submission (time.monotonic)
        self.drained: float | None = None

    # Setting up and taking down ------------------------------------------------------------

    def __enter__(self) -> ScenarioRun:
        try:
            self._setup()
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._teardown()

    def _setup(self) -> None:
        self.suite.ensure_up()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.db_url = self.suite.postgres.create_database(f"faults_{self.result.name}")
        migrate(self.db_url)
        self.settings = load_settings(
            database_url=self.db_url,
            broker_url=self.suite.redis.url,
            blob_dir=self.folder / "blobs",
            data_dir=self.folder / "data",
        )
        self.runtime = Runtime.from_settings(self.settings)
        self.emulator = EmulatorServer(**self.faults).start()

    def _teardown(self) -> None:
        if self.emulator is not None:
            # Running calls end at once, so warm shutdowns are quick.
            with contextlib.suppress(Exception):
                self.emulator.control.set_faults(latency_s=0, jitter_s=0, rate_429=0)
        stoppers = [threading.Thread(target=host.stop) for host in self.hosts]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(timeout=60)
        if self.emulator is not None:
            self.emulator.stop()
        dispose_all()

    # Workers --------------------------------------------------------------------------------

    def start_hosts(self, names: list[str], **env: str) -> list[Host]:
        """Start worker hosts at once (each waits for its workers to answer a ping)."""
        assert self.emulator is not None
        base = {
            "IMAGEJOBS_DATABASE_URL": self.db_url,
            "IMAGEJOBS_BROKER_URL": self.suite.redis.url,
            "IMAGEJOBS_BLOB_DIR": str(self.folder / "blobs"),
            "IMAGEJOBS_DATA_DIR": str(self.folder / "data"),
            "IMAGEJOBS_GEMINI_BASE_URL": self.emulator.base_url,
            "IMAGEJOBS_WORKER_CONCURRENCY": str(self.scale.threads * self.scale.processes),
            **self.worker_env,
            **env,
        }
        scale = self.scale
        hosts = [
            Host(
                name,
                base,
                self.folder / f"worker-{name}.log",
                concurrency=scale.threads * scale.processes,
                processes=scale.processes,
            )
            for name in names
        ]
        self.hosts += hosts
        errors: list[BaseException] = []

        def start(host: Host) -> None:
            try:
                host.start()
            except BaseException as exc:
                errors.append(exc)

        starters = [threading.Thread(target=start, args=(host,)) for host in hosts]
        for starter in starters:
            starter.start()
        for starter in starters:
            starter.join(timeout=120)
        if errors:
            raise errors[0]
        return hosts

    # Jobs ---------------------------------------------------------------------------------

    def scene(self, seed: int) -> bytes:
        side = self.scale.image_side
        return random_scene(seed, side, side * 3 // 4, 3).encode("PNG")

    def good_jobs(self, count: int, first_seed: int = 0) -> list[tuple[JobSpec, bytes]]:
        """Captions and detections (one Gemini call each) on scenes with a few shapes."""
        return [
            (JobSpec(task="detect" if seed % 2 else "caption"), self.scene(seed))
            for seed in range(first_seed, first_seed + count)
        ]

    def submit(self, jobs: list[tuple[JobSpec, bytes]]) -> list[str]:
        """Store, commit and enqueue each job as producers do (``submit_job``)."""
        if not self.started:
            self.started = time.monotonic()
        ids = [
            submit_job(self.runtime, spec, [ImageInput(data=data, filename=f"f{index}.img")]).job_id
            for index, (spec, data) in enumerate(jobs)
        ]
        self.job_ids += ids
        return ids

    def drain(self) -> float | None:
        """Wait (bounded) for every submitted job to be final; the moment, or None."""
        self.drained = wait_final(self.db_url, self.job_ids, self.scale.drain_timeout_s)
        return self.drained

    def calls(self) -> int:
        assert self.emulator is not None
        counted = self.emulator.control.stats()["calls"]
        return int(counted.get("generateContent", 0) + counted.get("streamGenerateContent", 0))

    # Figures ------------------------------------------------------------------------------

    def common_figures(self) -> tuple[Tally, int]:
        """The figures every scenario prints, and the invariants every scenario checks.
        Returns the tally and Gemini calls minus jobs (every job here needs one call)."""
        result = self.result
        counted = tally(self.db_url, self.job_ids)
        extra = self.calls() - counted.submitted
        drain_s = None if self.drained is None else self.drained - self.started
        result.figure("jobs submitted", counted.submitted)
        result.figure(
            "done",
            f"{counted.done} ({counted.succeeded} succeeded, {counted.failed} failed, "
            f"{counted.canceled} canceled)",
        )
        result.figure(f"lost (not final after {self.scale.drain_timeout_s:g} s)", counted.lost)
        result.figure("duplicate result sets", counted.duplicates)
        result.figure("Gemini calls minus jobs", f"{extra:+d}")
        result.figure("time to drain (s, from the first submit)", drain_s)
        result.figure("jobs that took more than one attempt", counted.retried)
        if counted.errors:
            result.figure(
                "failure codes", ", ".join(f"{c} x{n}" for c, n in counted.errors.items())
            )
        critical = [line for host in self.hosts for line in host.log_lines("CRITICAL")]
        restarts = [line for host in self.hosts for line in host.log_lines("restarting in")]
        result.figure("worker log: CRITICAL lines", len(critical))
        result.figure("worker processes restarted by the supervisor", len(restarts))
        result.notes += [f"worker log: {line.strip()[:300]}" for line in critical[:3]]
        result.check(
            "0 lost", counted.lost == 0, f"{counted.lost} of {counted.submitted} not final"
        )
        result.check("0 duplicate result sets", counted.duplicates == 0, f"{counted.duplicates}")
        result.check(
            "results only for succeeded jobs, and for every one",
            counted.stray == 0 and counted.missing == 0,
            f"{counted.stray} stray, {counted.missing} missing",
        )
        return counted, extra
