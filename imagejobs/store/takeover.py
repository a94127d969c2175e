"""Telling a take-over from a plain claim, for the ``imagejobs_lease_takeovers`` metric.

:func:`imagejobs.store.jobs.claim_job` takes a queued job or one whose lease expired, and its
``RETURNING`` shows only the new row. Called in the same transaction just before the claim,
:func:`expired_lease_owner` names the worker whose expired lease the claim is about to take
(the row is locked on Postgres, so a concurrent claimer waits and then finds nothing to claim).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from imagejobs.store.models import Job, utcnow


def expired_lease_owner(
    session: Session, job_id: str, *, now: datetime | None = None
) -> str | None:
    """The owner of the job's expired lease (a claim now is a take-over), else None."""
    now = now or utcnow()
    return session.scalars(
        select(Job.lease_owner)
        .where(Job.id == job_id, Job.status == "running", Job.lease_expires_at < now)
        .with_for_update()
    ).first()
