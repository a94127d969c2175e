"""The queue depth, as Postgres holds it: jobs not finished yet, counted at scrape time.

Only the unfinished statuses are counted (an index on ``status`` keeps this cheap however many
jobs have finished); finished jobs are counted as they finish (``imagejobs_jobs_finished``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from imagejobs.store.models import Job, utcnow

ACTIVE_STATUSES = ("queued", "running")


@dataclass(frozen=True)
class ActiveJobs:
    queued: int = 0  # queued, including those waiting below
    waiting: int = 0  # queued but not due yet: a retry's backoff, or parked
    running: int = 0


def active_jobs(session: Session, *, now: datetime | None = None) -> ActiveJobs:
    """How many jobs are queued (and of those, waiting for a later attempt) and running."""
    now = now or utcnow()
    waiting = case(
        (and_(Job.status == "queued", Job.next_attempt_at > now), 1),
        else_=0,
    )
    rows = session.execute(
        select(Job.status, func.count(), func.coalesce(func.sum(waiting), 0))
        .where(Job.status.in_(ACTIVE_STATUSES))
        .group_by(Job.status)
    ).all()
    counts = {status: (int(total), int(later)) for status, total, later in rows}
    queued, later = counts.get("queued", (0, 0))
    return ActiveJobs(queued=queued, waiting=later, running=counts.get("running", (0, 0))[0])
