"""Several worker processes on one host, each a Celery worker with a threads pool.

The supervisor starts them, forwards SIGTERM/SIGINT (Celery's warm shutdown: running jobs
finish), and exits when any of them exits, so the host's process manager can restart the lot.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from types import FrameType


def supervise(count: int, threads_per_process: int, loglevel: str) -> int:
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "imagejobs",
                "worker",
                "--processes",
                "1",
                "--concurrency",
                str(threads_per_process),
                "--loglevel",
                loglevel,
                "--node",
                f"imagejobs{index}@%h",
            ]
        )
        for index in range(1, count + 1)
    ]

    def forward(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    forward(signal.SIGTERM, None)
    codes = [child.wait() for child in children]
    return next((code for code in codes if code), 0)
