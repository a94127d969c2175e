"""Fair shares between producers: which producer's job goes next.

Weighted fair queuing by virtual time (start-time fair queuing, as Linux's CFS does for
threads): every producer has a virtual time that each of its dispatched jobs pushes on by
``cost / weight``; the next job comes from the eligible producer with the smallest virtual time.
Over any stretch where producers keep jobs waiting, each gets dispatches in proportion to its
weight, however long its backlog: a producer with 3,000 queued jobs and one with 30 alternate.

A producer that has no jobs waiting does not bank credit: when it has jobs again its virtual
time is lifted to the smallest one among the producers waiting (the system's virtual time), so
coming back after an idle hour does not let it take the next hour alone. A producer that ran
ahead (used spare capacity while others were idle) is not lifted down either; it waits until
the others catch up, which is at most the work it did alone.

Eligible means: jobs waiting, fewer running than its ``max_running``, and, with a
``rate_per_min`` cap, its pace allows a job now (GCRA, no burst). Priority orders jobs within a
producer only (:func:`next_job`), never across producers.

Pure: no I/O. The state (virtual times and rate paces) is small and can be stored anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ProducerLoad:
    """What one producer has waiting and running now, and its share settings."""

    producer: str
    waiting: int
    running: int = 0
    weight: float = 1.0
    max_running: int | None = None  # jobs running at once
    rate_per_min: float | None = None  # jobs started per minute

    def __post_init__(self) -> None:
        if self.waiting < 0 or self.running < 0:
            raise ValueError(f"producer {self.producer!r}: waiting and running must be >= 0")
        if not self.weight > 0:
            raise ValueError(f"producer {self.producer!r}: weight must be > 0, got {self.weight}")
        if self.max_running is not None and self.max_running < 1:
            raise ValueError(f"producer {self.producer!r}: max_running must be >= 1 or None")
        if self.rate_per_min is not None and not self.rate_per_min > 0:
            raise ValueError(f"producer {self.producer!r}: rate_per_min must be > 0 or None")


@dataclass(frozen=True)
class Choice:
    """The producer whose job goes next, or None with why and (for rate caps) how long."""

    producer: str | None
    wait_s: float | None = None  # None: nothing becomes eligible by waiting alone
    reason: str = ""  # "" | "nothing waiting" | "at max_running" | "rate cap"


@dataclass
class FairShare:
    """Virtual times and rate paces of producers: :meth:`choose`, then :meth:`dispatched` once
    the chosen producer's job was really claimed (a lost race charges nobody)."""

    vtime: dict[str, float] = field(default_factory=dict)
    next_start: dict[str, float] = field(default_factory=dict)  # rate cap: earliest next start
    system_vtime: float = 0.0  # never goes back

    def choose(self, loads: Sequence[ProducerLoad], now: float) -> Choice:
        """Who goes next. Only the system virtual time moves (forward, to the smallest virtual
        time among the eligible producers); nobody is charged."""
        waiting = [load for load in loads if load.waiting > 0]
        if not waiting:
            return Choice(None, None, "nothing waiting")
        eligible, rate_waits = [], []
        for load in waiting:
            start = self.next_start.get(load.producer)
            if load.max_running is not None and load.running >= load.max_running:
                continue
            if load.rate_per_min is not None and start is not None and start > now:
                rate_waits.append(start - now)
                continue
            eligible.append(load)
        if not eligible:
            if rate_waits:
                return Choice(None, min(rate_waits), "rate cap")
            return Choice(None, None, "at max_running")
        # Capped producers do not hold the system's time back: a cap earns no credit.
        lowest = min(self.effective_vtime(e.producer) for e in eligible)
        self.system_vtime = max(self.system_vtime, lowest)
        best = min(eligible, key=lambda e: (self.effective_vtime(e.producer), e.producer))
        return Choice(best.producer)

    def effective_vtime(self, producer: str) -> float:
        """A producer's virtual time, lifted to the system's if it fell behind while idle."""
        return max(self.vtime.get(producer, self.system_vtime), self.system_vtime)

    def dispatched(self, load: ProducerLoad, now: float, cost: float = 1.0) -> None:
        """Charge ``load.producer`` for one job of ``cost`` started at ``now``."""
        if cost < 0:
            raise ValueError(f"cost must be >= 0, got {cost}")
        self.vtime[load.producer] = self.effective_vtime(load.producer) + cost / load.weight
        if load.rate_per_min is not None:
            pace = 60.0 / load.rate_per_min
            earliest = max(self.next_start.get(load.producer, now), now)
            self.next_start[load.producer] = earliest + pace


@dataclass(frozen=True)
class WaitingJob:
    job_id: str
    priority: int  # 0..9, higher first
    created_at: datetime


def next_job(jobs: Iterable[WaitingJob]) -> WaitingJob | None:
    """Within one producer: highest priority first, then oldest, then by id."""
    return min(jobs, key=lambda j: (-j.priority, j.created_at, j.job_id), default=None)
