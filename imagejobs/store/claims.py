"""Claiming a job: the guarded ``UPDATE … RETURNING`` that takes its lease, with its images.

Of two workers holding the same message, one wins; a job whose lease expired (its worker died)
is taken over, and the claim says so. The statements are built once, on bound parameters.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Dialect, Table, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from imagejobs.store.db import Database
from imagejobs.store.images import job_images
from imagejobs.store.jobs import JOBS, J, job_from_row
from imagejobs.store.models import Image, Job, JobImage, utcnow

_IMAGE_ATTRIBUTES = [(attr.key, attr.columns[0].key) for attr in JobImage.__mapper__.column_attrs]
_JOB_ATTRIBUTES = [(attr.key, attr.columns[0].key) for attr in Job.__mapper__.column_attrs]


def claim_job(
    session: Session, job_id: str, owner: str, *, lease_s: float, now: datetime | None = None
) -> Job | None:
    """Take the lease on a due queued job (or one whose lease expired). None: nothing to do.

    One guarded ``UPDATE … RETURNING``: of two workers holding the same message, one wins.
    The caller's transaction commits the claim.
    """
    row = session.execute(_CLAIM_ANY, _claim_params(job_id, owner, lease_s, now)).first()
    return job_from_row(row) if row is not None else None


def _claim_params(job_id: str, owner: str, lease_s: float, now: datetime | None) -> dict[str, Any]:
    now = now or utcnow()
    return {
        "c_job_id": job_id,
        "c_owner": owner,
        "c_now": now,
        "c_expires": now + timedelta(seconds=lease_s),
    }


@dataclass(frozen=True)
class Claim:
    job: Job
    took_over: bool  # the job was running under a lease that had expired (a worker died)
    images: list[tuple[JobImage, str | None]]  # its images in order, each with its known mime


def claim_job_noting_takeover(
    session: Session, job_id: str, owner: str, *, lease_s: float, now: datetime | None = None
) -> Claim | None:
    """:func:`claim_job` with the job's images, saying whether it took over an expired lease.

    The usual case (a queued job) is one round trip on Postgres: the claiming UPDATE and the
    images' SELECT in one statement; only when that claims nothing is an expired lease tried.
    The statements are built once (bound parameters), not for every job.
    """
    params = _claim_params(job_id, owner, lease_s, now)
    postgres = session.get_bind().dialect.name == "postgresql"
    for took_over in (False, True):
        if postgres:  # SQLite has no UPDATE in a CTE: the claim, then the images
            rows = session.execute(_CLAIM_WITH_IMAGES[took_over], params).all()
            if rows:
                images = [
                    (_image_from_row(row), row.mime)
                    for row in rows
                    if row._mapping["ji_job_id"] is not None
                ]
                return Claim(job_from_row(rows[0]), took_over, images)
        else:
            row = session.execute(_CLAIM[took_over], params).first()
            if row is not None:
                return Claim(job_from_row(row), took_over, job_images(session, job_id))
    return None


def claim_in_own_transaction(
    db: Database, job_id: str, owner: str, *, lease_s: float, now: datetime | None = None
) -> Claim | None:
    """:func:`claim_job_noting_takeover`, committed at once. On Postgres the statement goes
    straight to the driver, compiled once: a worker claims a job for every message, and an ORM
    session and Core's execution around this one statement cost it more CPU than the statement
    (the rows are the same: psycopg reads timestamps and JSON as SQLAlchemy's types do)."""
    dialect = db.engine.dialect
    if dialect.name != "postgresql":
        with db.session() as session:
            return claim_job_noting_takeover(session, job_id, owner, lease_s=lease_s, now=now)
    params = _claim_params(job_id, owner, lease_s, now)
    with db.driver_transaction() as connection:
        for took_over in (False, True):
            claiming = _driver_claim(dialect, took_over)
            with connection.cursor() as cursor:
                cursor.execute(claiming.sql, claiming.compiled.construct_params(params))
                rows = cursor.fetchall()
            if rows:
                return claiming.claim(rows, took_over)
    return None


@dataclass(frozen=True)
class _DriverClaim:
    """The claim with its images compiled for a dialect, and where each value is in its rows."""

    compiled: Any
    sql: str
    job_at: list[tuple[str, int]]  # (Job attribute, index in the row)
    image_at: list[tuple[str, int]]  # (JobImage attribute, index in the row)
    image_job_id_at: int
    mime_at: int

    def claim(self, rows: list[tuple[Any, ...]], took_over: bool) -> Claim:
        first = rows[0]
        job = Job(**{key: first[index] for key, index in self.job_at})
        images = [
            (JobImage(**{key: row[index] for key, index in self.image_at}), row[self.mime_at])
            for row in rows
            if row[self.image_job_id_at] is not None
        ]
        return Claim(job, took_over, images)


@functools.cache
def _driver_claim(dialect: Dialect, took_over: bool) -> _DriverClaim:
    statement = _CLAIM_WITH_IMAGES[took_over]
    compiled = statement.compile(dialect=dialect)
    processed = set(compiled._bind_processors) & {"c_job_id", "c_owner", "c_now", "c_expires"}
    if processed:  # the driver would be given values SQLAlchemy converts first
        raise RuntimeError(f"the claim's parameters {sorted(processed)} need SQLAlchemy's types")
    at = {column.key: index for index, column in enumerate(statement.selected_columns)}
    return _DriverClaim(
        compiled=compiled,
        sql=compiled.string,
        job_at=[(key, at[column]) for key, column in _JOB_ATTRIBUTES],
        image_at=[(key, at[f"ji_{column}"]) for key, column in _IMAGE_ATTRIBUTES],
        image_job_id_at=at["ji_job_id"],
        mime_at=at["mime"],
    )


def _image_from_row(row: Any) -> JobImage:
    values = row._mapping
    return JobImage(**{key: values[f"ji_{column}"] for key, column in _IMAGE_ATTRIBUTES})


def _claim_statement(claimable: Any) -> Any:
    """The claiming UPDATE, on bound parameters ``c_job_id``, ``c_owner``, ``c_now``,
    ``c_expires``."""
    now = _NOW
    return (
        update(JOBS)
        .where(J.id == bindparam("c_job_id"), claimable)
        .values(
            status="running",
            lease_owner=bindparam("c_owner"),
            lease_expires_at=bindparam("c_expires", type_=J.lease_expires_at.type),
            attempts=J.attempts + 1,
            started_at=now,
            updated_at=now,
        )
        .returning(*JOBS.c)
    )


def _with_images(claim: Any) -> Any:
    claimed = claim.cte("claimed")
    images: Table = JobImage.__table__  # type: ignore[assignment]
    contents: Table = Image.__table__  # type: ignore[assignment]
    return (
        select(claimed, *(c.label(f"ji_{c.key}") for c in images.c), contents.c.mime)
        .select_from(
            claimed.outerjoin(images, images.c.job_id == claimed.c.id).outerjoin(
                contents, contents.c.sha256 == images.c.sha256
            )
        )
        .order_by(images.c.position)
    )


_NOW: Any = bindparam("c_now", type_=J.started_at.type)  # typed: SQLite stores text
_QUEUED_DUE = and_(
    J.status == "queued", or_(J.next_attempt_at.is_(None), J.next_attempt_at <= _NOW)
)
_LEASE_EXPIRED = and_(J.status == "running", J.lease_expires_at < _NOW)
# Indexed by "took over": a queued job first, else one whose lease expired.
_CLAIM = {False: _claim_statement(_QUEUED_DUE), True: _claim_statement(_LEASE_EXPIRED)}
_CLAIM_ANY = _claim_statement(or_(_QUEUED_DUE, _LEASE_EXPIRED))
_CLAIM_WITH_IMAGES = {took_over: _with_images(claim) for took_over, claim in _CLAIM.items()}
