"""Finding jobs: by id, by idempotency key, and a producer's jobs page by page (newest first,
with a keyset cursor of (created_at, id) so pages stay stable while jobs are added)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from imagejobs.store.models import Job


def find_job(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)


def job_by_idempotency_key(session: Session, producer_id: str | None, key: str) -> Job | None:
    """The job submitted earlier with this key by this producer (None: no producer)."""
    return session.scalars(
        select(Job).where(Job.producer_id == producer_id, Job.idempotency_key == key)
    ).first()


@dataclass(frozen=True)
class JobFilter:
    """Which of a producer's jobs to list; ``after`` is the last (created_at, id) already seen."""

    status: str | None = None
    task: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    after: tuple[datetime, str] | None = None


def list_jobs(
    session: Session, producer_id: str | None, where: JobFilter, *, limit: int
) -> tuple[Sequence[Job], bool]:
    """Up to ``limit`` of the producer's jobs (every producer's with None: the operator's CLI),
    newest first, and whether more follow."""
    query = select(Job)
    if producer_id is not None:
        query = query.where(Job.producer_id == producer_id)
    if where.status is not None:
        query = query.where(Job.status == where.status)
    if where.task is not None:
        query = query.where(Job.task == where.task)
    if where.created_after is not None:
        query = query.where(Job.created_at > where.created_after)
    if where.created_before is not None:
        query = query.where(Job.created_at < where.created_before)
    if where.after is not None:
        at, last_id = where.after
        query = query.where(or_(Job.created_at < at, and_(Job.created_at == at, Job.id < last_id)))
    query = query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)
    rows = list(session.scalars(query))
    return rows[:limit], len(rows) > limit
