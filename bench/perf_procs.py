"""A process tree read from /proc: its CPU time, resident memory and open files, and a sampler
that keeps the peak of such figures while a batch runs.

Figures are the sum over the root and every descendant alive when read (a worker host: the
supervisor and its consuming children).
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def tree(root: int) -> list[int]:
    """``root`` and all its descendants (those alive now), by the parent pid in each process's
    /proc/<pid>/stat: one read per process of the machine. (Each thread's ``children`` file was
    one read per thread: 86 ms a sample for a worker of 1,000 threads.)"""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        children[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry.name))
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo += children.get(pid, [])
    return pids


def cpu_seconds(root: int) -> float:
    """User + system CPU time of the tree (from /proc/<pid>/stat)."""
    total = 0
    for pid in tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / _TICK


def rss_bytes(root: int) -> int:
    """Resident memory of the tree: VmRSS of each process, summed."""
    total = 0
    for pid in tree(root):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
                break
    return total


def open_files(root: int) -> int:
    """File descriptors the tree holds open."""
    total = 0
    for pid in tree(root):
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def idle_cpu(root: int, seconds: float) -> float:
    """CPU the tree spends doing nothing for ``seconds`` (polls, heartbeats)."""
    before = cpu_seconds(root)
    time.sleep(seconds)
    return cpu_seconds(root) - before


Probe = Callable[[], float]


@dataclass
class Sampler:
    """Reads each probe every ``every_s`` seconds in a thread; keeps the peak of each.

    A probe that raises is counted in ``errors`` (the first message kept) and skipped for that
    round, so a busy service does not end the measurement.
    """

    probes: dict[str, Probe]
    every_s: float = 0.5
    peaks: dict[str, float] = field(default_factory=dict)
    samples: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name="perf-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.every_s):
                self.sample()  # the state at the end too
                return

    def sample(self) -> None:
        for name, probe in self.probes.items():
            try:
                value = probe()
            except Exception as exc:
                self.errors.setdefault(name, f"{type(exc).__name__}: {exc}")
                continue
            self.peaks[name] = max(self.peaks.get(name, value), value)
        self.samples += 1

    def peak(self, name: str) -> float:
        return self.peaks.get(name, float("nan"))


def mb(n_bytes: float) -> str:
    return f"{n_bytes / 1e6:,.0f} MB"


class CpuMeter:
    """CPU seconds each named process tree (and this process, ``bench``) spent between
    :meth:`start` and :meth:`stop`."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self._start: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        return {
            **{name: cpu_seconds(pid) for name, pid in self.roots.items()},
            "bench": time.process_time(),
        }

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        end = self._read()
        return {name: end[name] - self._start[name] for name in end}
