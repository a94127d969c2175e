"""``imagejobs worker`` as a child process, started and stopped by the demo, tests and benches.

Readiness is asked of the workers themselves: a Celery ``ping`` to this process's own node
names where the broker carries broadcasts (Redis), and otherwise (the embedded SQLite broker has
no broadcast) the ready file each worker writes once it consumes. A broker that cannot be
reached for the ping (starting, restarting) means "not ready yet": the start keeps asking until
its deadline.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import kombu.exceptions
import redis

from imagejobs.broker.app import make_celery
from imagejobs.settings import load_settings

# What a ping raises while the broker cannot be reached: kombu wraps what it retried; a reply
# read can fail with redis' (or the socket's) own error.
BROKER_UNREACHABLE = (
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OSError,
)

REPO = Path(__file__).resolve().parents[1]


class WorkerProcess:
    """``imagejobs worker`` in a subprocess, with its log in a file."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        concurrency: int = 16,
        processes: int = 1,
        cwd: Path = REPO,
    ) -> None:
        self.env = {**os.environ, **env}
        self.cwd = cwd
        self.log_path = log_path
        self.concurrency = concurrency
        self.processes = processes
        self.name = f"iw{secrets.token_hex(4)}"  # node names of this process alone
        self.ready_dir = log_path.parent / f"{log_path.stem}.ready"
        self.env["IMAGEJOBS_READY_DIR"] = str(self.ready_dir)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def nodes(self) -> list[str]:
        """The Celery node names of this process's workers (as the supervisor names them)."""
        host = socket.gethostname()
        if self.processes == 1:
            return [f"{self.name}@{host}"]
        return [f"{self.name}{index}@{host}" for index in range(1, self.processes + 1)]

    def start(self, timeout_s: float = 60.0) -> None:
        self.ready_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.ready_dir.iterdir():
            stale.unlink()
        with self.log_path.open("wb") as log:  # the child keeps its own handle
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cli",
                    "worker",
                    "--concurrency",
                    str(self.concurrency),
                    "--processes",
                    str(self.processes),
                    "--node",
                    f"{self.name}@%h",
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited at start:\n{self.log()}")
            if self.ready():
                return
            time.sleep(0.2)
        output = self.log()
        self.stop()
        raise RuntimeError(f"worker not ready after {timeout_s} s:\n{output}")

    def ready(self) -> bool:
        """True once every worker of this process answers (ping) or has said it consumes."""
        written = {path.name for path in self.ready_dir.iterdir()}
        if len(written) < self.processes:
            return False  # not even started consuming: no need to ask
        broker = self.env.get("IMAGEJOBS_BROKER_URL", "")
        if not broker.startswith(("redis://", "rediss://")):
            return True
        probe = make_celery(load_settings(broker_url=broker))  # the workers' transport options
        try:
            replies = probe.control.ping(destination=self.nodes, timeout=1.0)
        except BROKER_UNREACHABLE:
            return False  # the broker is starting or restarting: ask again
        finally:
            probe.close()
        answered = {name for reply in replies for name in reply}
        return answered >= set(self.nodes)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
