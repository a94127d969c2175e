"""Where a batch's time went, read from Postgres after it: when each job was claimed and ended.

A thread of the worker host holds one job at a time, so ``threads x wall`` is the time the
host had to give; the jobs used ``sum(end - claim)`` of it. The rest, per job, is how long a
thread waited between jobs (for its next message, or for the last ones to end). Claims per
second show whether the messages reached the threads as fast as they freed.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from perf_jobs import runtime
from sqlalchemy import select

from imagejobs.store.models import Job


@dataclass(frozen=True)
class Timeline:
    jobs: int
    threads: int
    first_wave_s: float  # from the first claim until min(jobs, threads) jobs were claimed
    later_claims_per_s: float  # claims after the first wave, per second, until the last claim
    job_median_s: float  # claim to end
    wait_between_s: float  # thread time not in a job, per job

    def lines(self, latency_s: float) -> list[str]:
        wave = min(self.jobs, self.threads)
        later = (
            f"after them {self.later_claims_per_s:.1f} claims/s (the threads free "
            f"{self.threads / latency_s:.0f}/s)"
            if self.jobs > self.threads + 1
            else "no job waited for a thread"
        )
        return [
            f"first {wave} claims in {self.first_wave_s:.2f} s; {later}",
            f"a job {self.job_median_s:.2f} s claim to end (median); a thread waited "
            f"{self.wait_between_s:.2f} s per job between jobs",
        ]


def timeline(job_ids: list[str], threads: int, wall_s: float) -> Timeline:
    with runtime().db.session() as session:
        rows = session.execute(
            select(Job.started_at, Job.finished_at).where(Job.id.in_(job_ids))
        ).all()
    spans = sorted((start.timestamp(), end.timestamp()) for start, end in rows if start and end)
    claims = [start for start, _ in spans]
    wave = min(len(claims), threads)
    first = claims[wave - 1] - claims[0] if claims else float("nan")
    later = claims[wave:]
    rate = (len(later) - 1) / (later[-1] - later[0]) if len(later) > 1 else float("nan")
    durations = [end - start for start, end in spans]
    busy = sum(durations)
    return Timeline(
        jobs=len(spans),
        threads=threads,
        first_wave_s=first,
        later_claims_per_s=rate,
        job_median_s=statistics.median(durations) if durations else float("nan"),
        wait_between_s=(threads * wall_s - busy) / len(spans) if spans else float("nan"),
    )
