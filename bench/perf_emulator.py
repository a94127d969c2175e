"""The Gemini emulator in its own process (``python -m cli emulator``), so that its work (and
its thousand open connections) neither shares the bench's interpreter nor counts as the bench's
CPU, and so that its own CPU can be read from /proc."""

from __future__ import annotations

import functools
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from imagejobs.emulator import EmulatorControl

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmulatorProcess:
    def __init__(self, log_path: Path, *, latency_s: float = 0.0) -> None:
        self.port = free_port()
        self.latency_s = latency_s
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @functools.cached_property
    def control(self) -> EmulatorControl:
        return EmulatorControl(self.base_url, timeout_s=30.0)

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("the emulator is not started")
        return self.proc.pid

    def start(self, timeout_s: float = 30.0) -> EmulatorProcess:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "cli", "emulator"),
                    *("--port", str(self.port), "--latency", str(self.latency_s)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited at start:\n{self.log_path.read_text()}")
            try:
                self.control.stats()
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"emulator not answering after {timeout_s} s")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.control.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
