"""What the fair-share scheduler reads before a job is claimed.

* :func:`waiting_by_producer` / :func:`running_by_producer`: the loads fair shares are made of;
* :func:`next_due_job`: a producer's next job (priority first, then oldest);
* :func:`producer_name`: the name budgets, weights and caps are set by;
* :func:`still_waiting`: whether a wake-up that ran another job must send its own again;
* :func:`peek_due`: what the quota gate needs of a due job before a call is admitted for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from imagejobs.core.times import as_utc
from imagejobs.store.models import Job, JobImage, Producer, utcnow

LOCAL_PRODUCER = "-"  # the name jobs submitted without a producer (local CLI) are counted under


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        Job.status == "queued", or_(Job.next_attempt_at.is_(None), Job.next_attempt_at <= now)
    )


def waiting_by_producer(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Producer name -> number of its jobs due now."""
    rows = session.execute(
        select(func.coalesce(Producer.name, LOCAL_PRODUCER), func.count())
        .select_from(Job)
        .outerjoin(Producer, Producer.id == Job.producer_id)
        .where(_due(now or utcnow()))
        .group_by(Producer.name)
    )
    return {name: int(count) for name, count in rows}


def running_by_producer(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(func.coalesce(Producer.name, LOCAL_PRODUCER), func.count())
        .select_from(Job)
        .outerjoin(Producer, Producer.id == Job.producer_id)
        .where(Job.status == "running")
        .group_by(Producer.name)
    )
    return {name: int(count) for name, count in rows}


def next_due_job(
    session: Session, producer: str, now: datetime | None = None, *, model: str | None = None
) -> str | None:
    """The id of ``producer``'s (a name) next due job (on ``model``, if named): highest
    priority, then oldest."""
    query = select(Job.id).where(_due(now or utcnow()))
    if model is not None:
        query = query.where(Job.model == model)
    if producer == LOCAL_PRODUCER:
        query = query.where(Job.producer_id.is_(None))
    else:
        query = query.join(Producer, Producer.id == Job.producer_id).where(
            Producer.name == producer
        )
    return session.scalars(query.order_by(Job.priority.desc(), Job.created_at).limit(1)).first()


def producer_name(session: Session, producer_id: str | None) -> str:
    if producer_id is None:
        return LOCAL_PRODUCER
    return session.scalar(select(Producer.name).where(Producer.id == producer_id)) or producer_id


def still_waiting(session: Session, job_id: str) -> tuple[str, int, float] | None:
    """(task, priority, seconds until due) of a queued job that has a message out (a parked
    job, with none, is the sweeper's to send); None otherwise."""
    row = session.execute(
        select(Job.task, Job.priority, Job.next_attempt_at).where(
            Job.id == job_id, Job.status == "queued", Job.enqueued_at.is_not(None)
        )
    ).first()
    if row is None:
        return None
    due = row[2]
    wait = 0.0 if due is None else max(0.0, (as_utc(due) - utcnow()).total_seconds())
    return row[0], row[1], wait


@dataclass(frozen=True)
class DueJob:
    """What the quota gate needs of a due job before any claim."""

    id: str
    task: str
    model: str
    fallback_models: list[str]
    last_error: str | None
    priority: int
    params: dict[str, Any]
    options: dict[str, Any]
    use_cache: bool
    image_sha256s: list[str | None]


def peek_due(session: Session, job_id: str) -> DueJob | None:
    """The job if it is queued and due now, else None."""
    row = session.execute(
        select(
            Job.task,
            Job.model,
            Job.fallback_models,
            Job.error_code,
            Job.priority,
            Job.params,
            Job.options,
            Job.use_cache,
        ).where(Job.id == job_id, _due(utcnow()))
    ).first()
    if row is None:
        return None
    shas = list(
        session.scalars(
            select(JobImage.sha256).where(JobImage.job_id == job_id).order_by(JobImage.position)
        )
    )
    return DueJob(
        job_id,
        row[0],
        row[1],
        list(row[2] or []),
        row[3],
        row[4],
        dict(row[5] or {}),
        dict(row[6] or {}),
        bool(row[7]),
        shas,
    )
