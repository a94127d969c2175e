"""Counting what became of a scenario's jobs, from the database.

A job's result set is its rows in the results tables (``job_results``, ``detections``,
``masks``); a duplicate is a job with two (two ``job_results`` rows, or a detection or mask
``seq`` twice). Lost jobs are those not final when the scenario stopped waiting.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from imagejobs.store.db import session_scope
from imagejobs.store.models import Detection, Job, JobResult, Mask

FINAL = ("succeeded", "failed", "canceled")


@dataclass
class Tally:
    submitted: int
    succeeded: int = 0
    failed: int = 0
    canceled: int = 0
    duplicates: int = 0
    stray: int = 0  # result rows of a job that did not succeed
    missing: int = 0  # succeeded without a result row
    retried: int = 0  # more than one attempt
    errors: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, str] = field(default_factory=dict)  # job id → status
    codes: dict[str, str | None] = field(default_factory=dict)  # job id → error code

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.canceled

    @property
    def lost(self) -> int:
        return self.submitted - self.done


def count_final(db_url: str, job_ids: list[str]) -> int | None:
    """How many of ``job_ids`` are final; None while the database does not answer."""
    try:
        with session_scope(db_url) as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.id.in_(job_ids), Job.status.in_(FINAL))
                )
                or 0
            )
    except DBAPIError:
        return None


def count_status(
    db_url: str, job_ids: list[str], status: str, owners: set[str] | None = None
) -> int:
    with session_scope(db_url) as session:
        query = (
            select(func.count()).select_from(Job).where(Job.id.in_(job_ids), Job.status == status)
        )
        if owners is not None:
            query = query.where(Job.lease_owner.in_(owners))
        return int(session.scalar(query) or 0)


def wait_final(
    db_url: str, job_ids: list[str], timeout_s: float, poll_s: float = 0.2
) -> float | None:
    """Wait until every job is final; the moment (``time.monotonic``) it happened, or None if
    ``timeout_s`` passed first. A database that does not answer (restarting) is asked again."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if count_final(db_url, job_ids) == len(job_ids):
            return time.monotonic()
        time.sleep(poll_s)
    return None


def tally(db_url: str, job_ids: list[str]) -> Tally:
    result = Tally(submitted=len(job_ids))
    with session_scope(db_url) as session:
        jobs = session.execute(
            select(Job.id, Job.status, Job.error_code, Job.attempts).where(Job.id.in_(job_ids))
        ).all()
        for job_id, status, code, attempts in jobs:
            if status == "succeeded":
                result.succeeded += 1
            elif status == "failed":
                result.failed += 1
                result.errors[code or "?"] += 1
            elif status == "canceled":
                result.canceled += 1
            result.statuses[job_id] = status
            result.codes[job_id] = code
            result.retried += int(attempts > 1)
        status_of = result.statuses
        sets = Counter(
            session.scalars(select(JobResult.job_id).where(JobResult.job_id.in_(job_ids)))
        )
        doubled = {job_id for job_id, count in sets.items() if count > 1}
        for model in (Detection, Mask):
            doubled |= set(
                session.scalars(
                    select(model.job_id)
                    .where(model.job_id.in_(job_ids))
                    .group_by(model.job_id, model.seq)
                    .having(func.count() > 1)
                )
            )
        result.duplicates = len(doubled)
        with_rows = set(sets)
        for model in (Detection, Mask):
            with_rows |= set(session.scalars(select(model.job_id).where(model.job_id.in_(job_ids))))
        result.stray = sum(1 for job_id in with_rows if status_of.get(job_id) != "succeeded")
        result.missing = sum(
            1
            for job_id, status in status_of.items()
            if status == "succeeded" and job_id not in sets
        )
    return result
