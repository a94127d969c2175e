"""``imagejobs worker`` as a child process, started and stopped by the demo, tests and benches."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

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
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        with self.log_path.open("wb") as log:  # the child keeps its own handle
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "imagejobs",
                    "worker",
                    "--concurrency",
                    str(self.concurrency),
                    "--processes",
                    str(self.processes),
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
            if self.log().count(" ready.") >= self.processes:
                return
            time.sleep(0.2)
        output = self.log()
        self.stop()
        raise RuntimeError(f"worker not ready after {timeout_s} s:\n{output}")

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
