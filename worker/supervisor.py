"""Several worker processes on one host, each a Celery worker with a threads pool.

The supervisor starts them and forwards SIGTERM/SIGINT (Celery's warm shutdown: running jobs
finish). A child that dies on its own (a crash, an unrecoverable broker error, the OOM killer)
is started again after a backoff that doubles with each quick death and resets once a child has
lived a while; after ``max_quick`` quick deaths in a row the supervisor stops the others and
exits non-zero, so the host's process manager sees a worker host that cannot stay up.

Children die with the supervisor (Linux: ``PR_SET_PDEATHSIG``): a supervisor killed outright
(SIGKILL, the OOM killer) takes its workers along, as a lost machine would, instead of leaving
orphans that go on consuming messages nobody watches.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Protocol

log = logging.getLogger(__name__)


class Child(Protocol):
    """What the supervisor needs of a child process (``subprocess.Popen`` has it)."""

    pid: int

    def poll(self) -> int | None: ...

    def wait(self) -> int: ...

    def send_signal(self, signum: int) -> None: ...


Spawn = Callable[[int], Child]


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
class _Slot:
    index: int
    proc: Child
    started: float
    restarts: Restarts
    due: float | None = None  # when the dead child is to be started again


@dataclass
class Supervisor:
    """The children and their restarts; :meth:`check` is one look at them."""

    count: int
    spawn: Spawn
    restarts: Callable[[], Restarts] = Restarts
    clock: Callable[[], float] = time.monotonic
    slots: list[_Slot] = field(default_factory=list)
    gave_up: int | None = None  # the exit code, once a child keeps dying
    signalled: set[int] = field(default_factory=set)  # pids already sent the stop signal
    on_exit: Callable[[int], None] | None = None  # told each child's pid once it has exited

    def start(self) -> None:
        now = self.clock()
        self.slots = [
            _Slot(index, self.spawn(index), now, self.restarts())
            for index in range(1, self.count + 1)
        ]

    def check(self) -> bool:
        """Restart children that are due, schedule the restart of those that died.

        Returns False once a child keeps dying (``gave_up`` holds the exit code).
        """
        now = self.clock()
        for slot in self.slots:
            if slot.due is not None:
                if now >= slot.due:
                    slot.proc, slot.started, slot.due = self.spawn(slot.index), now, None
                    log.info("worker %d started again (pid %d)", slot.index, slot.proc.pid)
                continue
            code = slot.proc.poll()
            if code is None:
                continue
            self._exited(slot.proc.pid)
            wait = slot.restarts.after_exit(now - slot.started)
            if wait is None:
                log.error("worker %d keeps dying (last exit code %s); giving up", slot.index, code)
                self.gave_up = code if code and code > 0 else 1
                return False
            log.warning(
                "worker %d exited with code %s; restarting in %.0f s", slot.index, code, wait
            )
            slot.due = now + wait
        return True

    def signal_all(self, signum: int) -> None:
        """Send ``signum`` once to every running child (children waiting for a restart stay
        down); calling it again reaches only children started since."""
        for slot in self.slots:
            if slot.due is None and slot.proc.pid not in self.signalled:
                self.signalled.add(slot.proc.pid)
                if slot.proc.poll() is None:
                    slot.proc.send_signal(signum)

    def wait(self) -> int:
        """Wait for the children; the supervisor's exit code (a child that had died and was
        waiting for its restart was already dealt with)."""
        codes = []
        for slot in self.slots:
            if slot.due is None:
                codes.append(slot.proc.wait())
                self._exited(slot.proc.pid)
        if self.gave_up is not None:
            return self.gave_up
        return next((code for code in codes if code > 0), 0)

    def _exited(self, pid: int) -> None:
        if self.on_exit is not None:
            try:
                self.on_exit(pid)
            except Exception:  # bookkeeping must not stop the supervision
                log.exception("after the exit of worker pid %d", pid)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@functools.cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when its parent dies (None where the
    platform cannot)."""
    prctl = _prctl()  # loaded here, in the parent: the forked child only calls it
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)

    return preexec


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
    env: dict[str, str] | None = None,
    on_exit: Callable[[int], None] | None = None,
) -> int:
    """Run ``count`` children until a signal stops them; ``env``: what the children's
    environment adds to this process's; ``on_exit``: told each child's pid once it exited."""
    child_env = {**os.environ, **env} if env else None

    def default_spawn(index: int) -> Child:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "worker",
                "consume",
                "--concurrency",
                str(threads_per_process),
                "--loglevel",
                loglevel,
                "--node",
                child_node(node, index, count),
            ],
            preexec_fn=die_with_parent(),  # only prctl runs between fork and exec
            env=child_env,
        )

    supervisor = Supervisor(count, spawn or default_spawn, restarts, on_exit=on_exit)
    received: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        supervisor.signal_all(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    supervisor.start()
    while not received:
        if not supervisor.check():
            received.append(signal.SIGTERM)  # gave up: stop the others as a signal would
            break
        time.sleep(poll_s)
    supervisor.signal_all(received[0])  # also a child started while the signal arrived
    return supervisor.wait()
