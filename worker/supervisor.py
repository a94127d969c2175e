"""Several worker processes on one host, each a Celery worker with a threads pool.

The supervisor starts them and forwards SIGTERM/SIGINT (Celery's warm shutdown: running jobs
finish). A child that dies on its own (a crash, an unrecoverable broker error, the OOM killer)
is started again after a backoff that doubles with each quick death and resets once a child has
lived a while; after ``max_restarts`` quick deaths in a row the supervisor stops the others and
exits non-zero, so the host's process manager sees a worker host that cannot stay up.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger(__name__)

Spawn = Callable[[int], "subprocess.Popen[bytes]"]


@dataclass
class Restarts:
    """Backoff for one child: quick deaths in a row double the wait; a long life resets it."""

    base_s: float = 1.0
    max_s: float = 60.0
    healthy_after_s: float = 60.0
    max_quick: int = 10
    quick: int = 0

    def after_exit(self, lived_s: float) -> float | None:
        """Seconds to wait before the restart, or None to give up."""
        self.quick = 0 if lived_s >= self.healthy_after_s else self.quick + 1
        if self.quick > self.max_quick:
            return None
        return min(self.max_s, self.base_s * 2 ** max(0, self.quick - 1))


@dataclass
class _Child:
    index: int
    proc: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    restarts: Restarts = field(default_factory=Restarts)
    due: float | None = None  # when a dead child is to be started again


def child_node(node: str, index: int, count: int) -> str:
    """``name@host`` → ``name<index>@host``: each child its own Celery node name (one child
    keeps the name as given)."""
    if count == 1:
        return node
    name, _, host = node.partition("@")
    return f"{name}{index}@{host or '%h'}"


def supervise(
    count: int,
    threads_per_process: int,
    loglevel: str,
    node: str = "imagejobs@%h",
    *,
    spawn: Spawn | None = None,
    restarts: Callable[[], Restarts] = Restarts,
    poll_s: float = 0.5,
) -> int:
    def default_spawn(index: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "imagejobs",
                "worker",
                "--child",
                "--concurrency",
                str(threads_per_process),
                "--loglevel",
                loglevel,
                "--node",
                child_node(node, index, count),
            ]
        )

    start = spawn or default_spawn
    children = [_Child(index, start(index), restarts=restarts()) for index in range(1, count + 1)]
    stopping = signalled = False

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping, signalled
        stopping = signalled = True
        for child in children:
            if child.proc.poll() is None:
                child.proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    gave_up = 0
    while not stopping:
        now = time.monotonic()
        for child in children:
            if child.due is not None:
                if now >= child.due:
                    child.proc, child.started, child.due = start(child.index), now, None
                continue
            code = child.proc.poll()
            if code is None:
                continue
            wait = child.restarts.after_exit(now - child.started)
            if wait is None:
                log.error("worker %d keeps dying (last exit code %s); giving up", child.index, code)
                gave_up = code or 1
                stopping = True
                break
            log.warning(
                "worker %d exited with code %s; restarting in %.0f s", child.index, code, wait
            )
            child.due = now + wait
        if not stopping:
            time.sleep(poll_s)
    if not signalled:  # gave up: stop the others the way a signal would
        forward(signal.SIGTERM, None)
    codes = [child.proc.wait() for child in children]
    return gave_up or next((code for code in codes if code and code > 0), 0)
