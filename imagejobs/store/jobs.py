"""Job rows: create, claim with a lease, retry or park, finish, cancel.

Every state change is one guarded UPDATE, so two workers holding the same message cannot both
run a job, and a late worker whose lease was taken over cannot overwrite the new owner's work.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Table, and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from imagejobs.core.jobspec import JobSpec
from imagejobs.store.images import add_contents
from imagejobs.store.models import (
    FINAL_STATUSES,
    Job,
    JobImage,
    new_id,
    utcnow,
)
from imagejobs.store.outbox import add_webhook_event

JOBS: Table = Job.__table__  # type: ignore[assignment]
J = JOBS.c
# (attribute, column) of each mapped column: a claimed row becomes a Job without the ORM's
# statement machinery (the hot path), detached, with every column loaded.
_ATTRIBUTES = [(attr.key, attr.columns[0].key) for attr in Job.__mapper__.column_attrs]


_COLUMN_OF = dict(_ATTRIBUTES)  # attribute name -> column name
_INSERT_JOB = insert(JOBS)
_INSERT_JOB_IMAGES = insert(JobImage.__table__)  # type: ignore[arg-type]


def job_from_row(row: Any) -> Job:
    values = row._mapping
    return Job(**{key: values[column] for key, column in _ATTRIBUTES})


@dataclass(frozen=True)
class NewImage:
    """One image of a new job: stored bytes (``sha256``) or a URL the worker will fetch."""

    sha256: str | None = None
    size_bytes: int | None = None
    source_url: str | None = None
    filename: str | None = None


class JobNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Finished:
    """What :func:`finish_job` did: whether the job's status changed (its truth value) and the
    outbox row it wrote for the event (None when the job wants no webhook for it)."""

    changed: bool
    delivery_id: str | None = None

    def __bool__(self) -> bool:
        return self.changed


def create_job(
    session: Session,
    spec: JobSpec,
    images: list[NewImage],
    *,
    default_model: str,
    producer_id: str | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    will_enqueue: bool = True,
) -> Job:
    """Insert a queued job and its images (the caller commits, then enqueues).

    With ``will_enqueue`` False the job carries no ``enqueued_at`` and the sweeper sends it.
    """
    spec.check_image_count(len(images))
    fields: dict[str, Any] = {
        "id": new_id(),
        "producer_id": producer_id,
        "task": spec.task,
        "model": spec.model or default_model,
        "status": "queued",
        "params": spec.params(),
        "options": spec.options.model_dump(exclude_none=True),
        "priority": spec.priority,
        "deadline": spec.deadline,
        "job_metadata": spec.metadata,
        "webhook_url": spec.webhook_url,
        "webhook_events": spec.webhook_events,
        "fallback_models": list(spec.fallback_models),
        "use_cache": spec.cache,
        "on_budget": spec.on_budget,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "enqueued_at": utcnow() if will_enqueue else None,
    }
    # Core statements built once (the submission's hot path: no unit of work, no flushes).
    session.execute(_INSERT_JOB, {_COLUMN_OF[name]: value for name, value in fields.items()})
    new_contents = {i.sha256: i.size_bytes or 0 for i in images if i.sha256}
    add_contents(session, new_contents)  # before the job's images, which refer to them
    rows = [
        {
            "job_id": fields["id"],
            "position": position,
            "sha256": image.sha256,
            "source_url": image.source_url,
            "filename": image.filename,
        }
        for position, image in enumerate(images)
    ]
    if rows:
        session.execute(_INSERT_JOB_IMAGES, rows[0] if len(rows) == 1 else rows)
    return Job(**fields)  # what was inserted (column defaults such as created_at: not read back)


def mark_not_enqueued(session: Session, job_id: str) -> None:
    """The broker refused the message: let the sweeper send it as soon as it can."""
    session.execute(update(Job).where(Job.id == job_id).values(enqueued_at=None))


def get_job(session: Session, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise JobNotFound(job_id)
    return job


def _owned(job_id: str, owner: str) -> Any:
    return and_(J.id == job_id, J.status == "running", J.lease_owner == owner)


def extend_lease(session: Session, job_id: str, owner: str, *, lease_s: float) -> bool:
    now = utcnow()
    result = session.execute(
        update(JOBS)
        .where(_owned(job_id, owner))
        .values(lease_expires_at=now + timedelta(seconds=lease_s))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def still_owned(session: Session, job_id: str, owner: str) -> bool:
    """True while ``owner`` holds the lease and nobody asked to cancel."""
    row = session.execute(
        select(J.cancel_requested).where(_owned(job_id, owner)).with_for_update()
    ).first()
    return row is not None and not row[0]


def schedule_retry(
    session: Session,
    job_id: str,
    owner: str,
    *,
    delay_s: float,
    park_after_s: float,
    error_code: str,
    error_message: str,
    refund_attempt: bool = False,
    keep_due: bool = False,
) -> str | None:
    """Put a running job back in the queue after ``delay_s``.

    Returns ``"retry"`` when the caller should send a delayed message now, ``"park"`` when the
    delay is long and the sweeper will enqueue it when due, or None if the lease was lost.
    ``refund_attempt``: the attempt sent nothing (it waits for quota or budget), so it does not
    count against ``IMAGEJOBS_MAX_ATTEMPTS``. ``keep_due``: the job stays due now (another
    wake-up may take it at once); only the caller's delayed message waits ``delay_s``.
    """
    now = utcnow()
    parked = delay_s > park_after_s and not keep_due
    refund = {"attempts": J.attempts - 1} if refund_attempt else {}
    result = session.execute(
        update(JOBS)
        .where(_owned(job_id, owner))
        .values(
            **refund,
            status="queued",
            lease_owner=None,
            lease_expires_at=None,
            next_attempt_at=now if keep_due else now + timedelta(seconds=delay_s),
            enqueued_at=None if parked else now,
            error_code=error_code,
            error_message=error_message,
            updated_at=now,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return None
    return "park" if parked else "retry"


@functools.cache
def finishing_statement(owned: bool, unless_canceled: bool, record: tuple[str, ...]) -> Any:
    """The guarded UPDATE that ends a job, built once per shape (the hot path builds nothing):
    held by the lease ``f_owner`` (``owned``) or still queued; ``record`` names more columns."""
    job_id = J.id == bindparam("f_job_id")
    if owned:
        guard = and_(job_id, J.status == "running", J.lease_owner == bindparam("f_owner"))
    else:
        guard = and_(job_id, J.status == "queued")
    if unless_canceled:
        guard = and_(guard, J.cancel_requested.is_(False))
    columns = ("status", "error_code", "error_message", "finished_at", "updated_at", *record)
    return (
        update(JOBS)
        .where(guard)
        .values(
            lease_owner=None,
            lease_expires_at=None,
            next_attempt_at=None,
            **{column: bindparam(column) for column in columns},
        )
    )


def finish_job(
    session: Session,
    job: Job,
    status: str,
    *,
    owner: str | None,
    unless_canceled: bool = False,
    error_code: str | None = None,
    error_message: str | None = None,
    links: dict[str, str] | None = None,
    summary: dict[str, Any] | None = None,
    record: dict[str, Any] | None = None,
) -> Finished:
    """Move a job to a final status and write its webhook outbox row in the same transaction.

    With ``owner`` the job must still be held by that lease; without, it must be queued
    (canceling or failing a job that no worker holds); ``unless_canceled`` also refuses a job
    whose producer asked to cancel it. ``record``: more columns the end sets (the model that
    answered, the cache key, the job a cached answer came from). The result is false if the
    guard failed; it names the outbox row written, if any (to queue it once the transaction
    commits).
    """
    assert status in FINAL_STATUSES
    statement = finishing_statement(bool(owner), unless_canceled, tuple(sorted(record or ())))
    values = finishing_values(job.id, owner, status, error_code, error_message, record)
    if not session.execute(statement, values).rowcount:  # type: ignore[attr-defined]
        return Finished(changed=False)
    return finished(
        session,
        job,
        status,
        error_code=error_code,
        error_message=error_message,
        links=links,
        summary=summary,
    )


def finishing_values(
    job_id: str,
    owner: str | None,
    status: str,
    error_code: str | None,
    error_message: str | None,
    record: dict[str, Any] | None,
) -> dict[str, Any]:
    """The parameters of :func:`finishing_statement`."""
    now = utcnow()
    return {
        "f_job_id": job_id,
        "f_owner": owner,
        "status": status,
        "error_code": error_code,
        "error_message": error_message,
        "finished_at": now,
        "updated_at": now,
        **(record or {}),
    }


def finished(
    session: Session,
    job: Job,
    status: str,
    *,
    error_code: str | None,
    error_message: str | None,
    links: dict[str, str] | None,
    summary: dict[str, Any] | None,
) -> Finished:
    """The guard held: ``job`` says so, and the event's outbox row is written (if wanted)."""
    job.status = status
    job.error_code, job.error_message = error_code, error_message
    delivery = add_webhook_event(
        session, job, f"job.{status}", links=links or {}, summary=summary or {}
    )
    return Finished(changed=True, delivery_id=delivery.id if delivery is not None else None)


def request_cancel(session: Session, job: Job, **finish_kwargs: Any) -> str:
    """Cancel a job: queued (or parked) jobs end now, running ones end when the worker notices."""
    if job.status in FINAL_STATUSES:
        return job.status
    if job.status == "queued" and finish_job(
        session,
        job,
        "canceled",
        owner=None,
        error_code="canceled",
        error_message="canceled by the producer",
        **finish_kwargs,
    ):
        return "canceled"
    session.execute(
        update(Job).where(Job.id == job.id, Job.status == "running").values(cancel_requested=True)
    )
    session.refresh(job)
    return job.status


class DueJob(NamedTuple):
    id: str
    priority: int
    task: str  # the job's kind (caption, detect, ...), shown with its message in Flower


def due_job_ids(
    session: Session,
    *,
    now: datetime | None = None,
    stale_s: float = 900.0,
    limit: int = 500,
    skip_locked: bool = False,
) -> list[DueJob]:
    """Jobs that need a (new) message: parked and due, never enqueued, stale, or lease expired.

    Nothing is changed here: the caller stamps the jobs it did send with :func:`mark_enqueued`,
    so a job whose message the broker refused stays due. With ``skip_locked`` the rows are
    locked until the caller's transaction ends, and rows another transaction locked are skipped
    (Postgres; SQLite has one writer anyway).
    """
    now = now or utcnow()
    due = or_(Job.next_attempt_at.is_(None), Job.next_attempt_at <= now)
    needs_message = or_(
        Job.enqueued_at.is_(None), Job.enqueued_at < now - timedelta(seconds=stale_s)
    )
    query = (
        select(Job.id, Job.priority, Job.task)
        .where(
            or_(
                and_(Job.status == "queued", due, needs_message),
                and_(Job.status == "running", Job.lease_expires_at < now),
            )
        )
        .order_by(Job.priority.desc(), Job.created_at)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return [DueJob(row[0], row[1], row[2]) for row in session.execute(query)]


def mark_enqueued(session: Session, job_ids: list[str], *, now: datetime | None = None) -> int:
    """Stamp the queued jobs among ``job_ids`` as sent now; returns how many were stamped."""
    if not job_ids:
        return 0
    result = session.execute(
        update(JOBS)
        .where(J.id.in_(job_ids), J.status == "queued")
        .values(enqueued_at=now or utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def mark_all_unsent(session: Session) -> int:
    """The broker lost its messages: every queued job needs a new one (each is sent as soon as it
    is due). Returns how many queued jobs there are."""
    result = session.execute(
        update(Job)
        .where(Job.status == "queued")
        .values(enqueued_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
