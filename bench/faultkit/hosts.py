"""Worker hosts for the fault scenarios: ``imagejobs worker`` (a supervisor and its Celery
children) started, watched, killed like a lost machine, and stopped within a bounded time."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import kombu.exceptions
import redis

from cli.worker_process import WorkerProcess

# What a readiness ping can raise while the broker is briefly unreachable.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    redis.RedisError,
    kombu.exceptions.OperationalError,
    ConnectionError,
)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(child) for child in path.read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        return []


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Host:
    """One worker host: ``imagejobs worker --processes N`` with its log in ``log_path``."""

    def __init__(
        self, name: str, env: dict[str, str], log_path: Path, concurrency: int, processes: int
    ) -> None:
        self.name = name
        self.worker = WorkerProcess(env, log_path, concurrency=concurrency, processes=processes)
        self.started_pids: list[int] = []

    def start(self, timeout_s: float = 90.0) -> None:
        deadline = time.monotonic() + timeout_s
        try:
            self.worker.start(timeout_s=timeout_s)
        except BROKER_ERRORS as exc:  # the readiness ping hit a broker hiccup: ask again
            self._wait_ready(deadline, exc)
        self.started_pids = self.pids()

    def _wait_ready(self, deadline: float, first: BaseException) -> None:
        proc = self.worker.proc
        while time.monotonic() < deadline:
            if proc is None or proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.worker.log()[-4000:]}")
            with contextlib.suppress(*BROKER_ERRORS):
                if self.worker.ready():
                    return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"{self.name} not ready (first ping failed: {first!r})")

    @property
    def supervisor(self) -> int | None:
        proc = self.worker.proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def pids(self) -> list[int]:
        """The Celery worker processes (the supervisor's children) running now."""
        supervisor = self.supervisor
        return [pid for pid in children(supervisor) if running(pid)] if supervisor else []

    def owners(self) -> set[str]:
        """Lease owner names of this host's workers (``hostname:pid``, as worker/runtime.py)."""
        host = socket.gethostname()
        return {f"{host}:{pid}" for pid in self.started_pids}

    def alive(self, ping_timeout_s: float = 30.0) -> tuple[bool, str]:
        """Whether every worker process that started is still running (same pids, none
        restarted) and they all answer a ping within ``ping_timeout_s``; and why not."""
        now = self.pids()
        if self.supervisor is None:
            return False, f"{self.name}: supervisor exited"
        gone = [pid for pid in self.started_pids if pid not in now]
        if gone:
            return False, f"{self.name}: worker processes {gone} died (running now: {now})"
        deadline = time.monotonic() + ping_timeout_s
        while time.monotonic() < deadline:
            try:
                if self.worker.ready():
                    return True, f"{self.name}: {len(now)} processes alive, answering ping"
            except Exception:  # the broker is still coming back: ask again
                pass
            time.sleep(0.5)
        return False, f"{self.name}: processes {now} running but not answering ping"

    def kill(self) -> int:
        """SIGKILL the supervisor and every worker process, as a machine lost at once.
        Returns how many processes were killed."""
        supervisor = self.supervisor
        if supervisor is None:
            return 0
        victims = [supervisor, *self.pids()]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert self.worker.proc is not None
        self.worker.proc.wait(timeout=10)
        return len(victims)

    def log_lines(self, *needles: str) -> list[str]:
        return [line for line in self.worker.log().splitlines() if any(n in line for n in needles)]

    def stop(self, timeout_s: float = 15.0) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL of all of it if that takes too long."""
        proc = self.worker.proc
        if proc is None:
            return
        workers = self.pids()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in workers:
            if running(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.worker.proc = None
