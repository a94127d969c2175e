"""What the results console reads: who a session's API key belongs to (while the key is active),
a page of jobs with the model filter and each job's producer name, and spend per day.

Every function works in the caller's session (``runtime.db.session()``). ``producer_id=None``
means every producer's rows (the console's operator).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from imagejobs.store.job_lookup import JobFilter
from imagejobs.store.models import ApiKey, Job, Producer, Usage
from imagejobs.store.producers import KEY_PREFIX, ProducerInfo, hash_key


@dataclass(frozen=True)
class KeyHolder:
    """An active API key's id and its producer."""

    key_id: str
    producer: ProducerInfo


def _producer_info(producer: Producer) -> ProducerInfo:
    return ProducerInfo(producer.id, producer.name, list(producer.webhook_secrets or []))


def key_holder(session: Session, api_key: str) -> KeyHolder | None:
    """The key's id and producer, or None for an unknown or revoked key."""
    if not api_key.startswith(KEY_PREFIX):
        return None
    row = session.execute(
        select(ApiKey.id, Producer)
        .join(Producer, Producer.id == ApiKey.producer_id)
        .where(ApiKey.key_hash == hash_key(api_key), ApiKey.revoked_at.is_(None))
    ).first()
    return None if row is None else KeyHolder(row[0], _producer_info(row[1]))


def producer_of_active_key(session: Session, key_id: str) -> ProducerInfo | None:
    """The producer of key ``key_id`` while that key is not revoked (None once it is)."""
    if not 0 < len(key_id) <= 32:
        return None
    producer = session.scalars(
        select(Producer)
        .join(ApiKey, ApiKey.producer_id == Producer.id)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
    ).first()
    return None if producer is None else _producer_info(producer)


@dataclass(frozen=True)
class JobRow:
    job: Job
    producer_name: str | None  # None: a job of no producer (the CLI's, interop's)
    billed_tokens: int | None
    cost_usd: float | None


def console_jobs(
    session: Session,
    producer_id: str | None,
    where: JobFilter,
    *,
    model: str | None = None,
    limit: int,
) -> tuple[list[JobRow], bool]:
    """Up to ``limit`` jobs, newest first (the keyset order of ``job_lookup.list_jobs``), with
    the ``model`` filter too; and whether more follow."""
    query = (
        select(Job, Producer.name, Usage.total_tokens, Usage.cost_usd)
        .outerjoin(Producer, Producer.id == Job.producer_id)
        .outerjoin(Usage, Usage.job_id == Job.id)
    )
    conditions: list[Any] = []
    if producer_id is not None:
        conditions.append(Job.producer_id == producer_id)
    if where.status is not None:
        conditions.append(Job.status == where.status)
    if where.task is not None:
        conditions.append(Job.task == where.task)
    if model is not None:
        conditions.append(Job.model == model)
    if where.created_after is not None:
        conditions.append(Job.created_at > where.created_after)
    if where.created_before is not None:
        conditions.append(Job.created_at < where.created_before)
    if where.after is not None:
        at, last_id = where.after
        conditions.append(or_(Job.created_at < at, and_(Job.created_at == at, Job.id < last_id)))
    query = query.where(*conditions).order_by(Job.created_at.desc(), Job.id.desc())
    rows = session.execute(query.limit(limit + 1)).all()
    page = [JobRow(*row) for row in rows[:limit]]
    return page, len(rows) > limit


def producer_name(session: Session, producer_id: str | None) -> str | None:
    if producer_id is None:
        return None
    return session.scalars(select(Producer.name).where(Producer.id == producer_id)).first()


@dataclass(frozen=True)
class DaySpend:
    """One UTC day of submitted jobs: how many, tokens quoted and billed, and their cost."""

    day: date
    jobs: int
    succeeded: int
    failed: int
    estimated_tokens: int
    billed_tokens: int
    cost_usd: float


def _utc_day(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", Job.created_at))
    return func.date(Job.created_at)  # SQLite keeps UTC times as text


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def spend_per_day(
    session: Session, producer_id: str | None, *, since: datetime, until: datetime | None = None
) -> list[DaySpend]:
    """Jobs created since ``since`` (and before ``until``), grouped by UTC day, newest first."""
    day = _utc_day(session).label("day")
    query = (
        select(
            day,
            func.count(Job.id),
            func.count(Job.id).filter(Job.status == "succeeded"),
            func.count(Job.id).filter(Job.status == "failed"),
            func.coalesce(func.sum(Usage.estimated_tokens), 0),
            func.coalesce(func.sum(Usage.total_tokens), 0),
            func.coalesce(func.sum(Usage.cost_usd), 0.0),
        )
        .outerjoin(Usage, Usage.job_id == Job.id)
        .where(Job.created_at >= since)
    )
    if until is not None:
        query = query.where(Job.created_at < until)
    if producer_id is not None:
        query = query.where(Job.producer_id == producer_id)
    rows: Sequence[Any] = session.execute(query.group_by(day).order_by(day.desc())).all()
    return [
        DaySpend(
            day=_as_date(row[0]),
            jobs=int(row[1]),
            succeeded=int(row[2]),
            failed=int(row[3]),
            estimated_tokens=int(row[4]),
            billed_tokens=int(row[5]),
            cost_usd=float(row[6]),
        )
        for row in rows
    ]
