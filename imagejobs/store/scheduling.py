"""What the fair-share scheduler and the quota gate read and change before a job is claimed.

* :func:`waiting_by_producer` / :func:`running_by_producer`: the loads fair shares are made of;
* :func:`next_due_job`: a producer's next job (priority first, then oldest);
* :func:`peek_job`: what the quota gate needs to know of a due job before claiming it;
* :func:`postpone`: a queued job that cannot be sent yet waits in Postgres (no attempt used).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from imagejobs.store.models import Job, JobImage, Producer, Usage, utcnow

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


def next_due_job(session: Session, producer: str, now: datetime | None = None) -> str | None:
    """The id of ``producer``'s (a name) next due job: highest priority, then oldest."""
    query = select(Job.id).where(_due(now or utcnow()))
    if producer == LOCAL_PRODUCER:
        query = query.where(Job.producer_id.is_(None))
    else:
        query = query.join(Producer, Producer.id == Job.producer_id).where(
            Producer.name == producer
        )
    return session.scalars(query.order_by(Job.priority.desc(), Job.created_at).limit(1)).first()


@dataclass(frozen=True)
class JobPeek:
    """A due job as the quota gate sees it before claiming it."""

    id: str
    task: str
    model: str
    fallback_models: list[str]
    producer: str
    last_error: str | None
    image_count: int
    image_sha256s: list[str | None]
    estimated_tokens: int | None  # the quote of an earlier attempt, if any
    use_cache: bool


def peek_job(session: Session, job_id: str, now: datetime | None = None) -> JobPeek | None:
    """The job if it is due now (None otherwise: done, running, not yet due, unknown)."""
    row = session.execute(
        select(
            Job.id,
            Job.task,
            Job.model,
            Job.fallback_models,
            func.coalesce(Producer.name, LOCAL_PRODUCER),
            Job.error_code,
            Usage.estimated_tokens,
            Job.use_cache,
        )
        .outerjoin(Producer, Producer.id == Job.producer_id)
        .outerjoin(Usage, Usage.job_id == Job.id)
        .where(Job.id == job_id, _due(now or utcnow()))
    ).first()
    if row is None:
        return None
    shas = list(
        session.scalars(
            select(JobImage.sha256).where(JobImage.job_id == job_id).order_by(JobImage.position)
        )
    )
    return JobPeek(
        row[0], row[1], row[2], list(row[3] or []), row[4], row[5], len(shas), shas, row[6], row[7]
    )


def producer_name(session: Session, producer_id: str | None) -> str:
    if producer_id is None:
        return LOCAL_PRODUCER
    return session.scalar(select(Producer.name).where(Producer.id == producer_id)) or producer_id


def postpone(
    session: Session,
    job_id: str,
    *,
    delay_s: float,
    park_after_s: float,
    reason: str,
    message: str,
) -> str | None:
    """Hold a queued (unclaimed) job back ``delay_s``: ``"retry"`` when the caller should send a
    delayed message now, ``"park"`` when the sweeper will send it when due, None if it is no
    longer queued. The reason is kept as the job's last error so a producer can see why."""
    now = utcnow()
    parked = delay_s > park_after_s
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "queued")
        .values(
            next_attempt_at=now + timedelta(seconds=delay_s),
            enqueued_at=None if parked else now,
            error_code=f"waiting_{reason}",
            error_message=f"{message}; next try in {delay_s:.1f} s",
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    return "park" if parked else "retry"
