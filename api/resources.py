"""Rendering jobs and deliveries as API resources, and finding a producer's own rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.problems import ProblemError
from api.schemas import DeliveryView, JobResource, JobSummary
from imagejobs.core.jobspec import job_error
from imagejobs.core.links import job_links
from imagejobs.core.times import iso
from imagejobs.results.view import render_job
from imagejobs.store.job_lookup import find_job
from imagejobs.store.models import Job, WebhookDelivery
from imagejobs.store.outbox import delivery_attempts, get_delivery

ID_CHARS = frozenset("0123456789abcdef")


def looks_like_id(value: str) -> bool:
    return 0 < len(value) <= 32 and not set(value) - ID_CHARS


def links(job_id: str) -> dict[str, str]:
    return {
        **job_links(job_id),
        "deliveries": f"/v1/jobs/{job_id}/deliveries",
        "cancel": f"/v1/jobs/{job_id}/cancel",
    }


def owned_job(session: Session, job_id: str, producer_id: str) -> Job:
    """The producer's job; another producer's job is reported exactly like a missing one."""
    job = find_job(session, job_id) if looks_like_id(job_id) else None
    if job is None or job.producer_id != producer_id:
        raise ProblemError(404, f"no job {job_id!r}")
    return job


def owned_delivery(session: Session, delivery_id: str, producer_id: str) -> WebhookDelivery:
    row = get_delivery(session, delivery_id) if looks_like_id(delivery_id) else None
    if row is None or row.producer_id != producer_id:
        raise ProblemError(404, f"no delivery {delivery_id!r}")
    return row


def job_resource(session: Session, job: Job) -> dict[str, Any]:
    view = render_job(session, job, include_masks=True)
    view.update(
        priority=job.priority,
        deadline=iso(job.deadline),
        webhook={"url": job.webhook_url, "events": list(job.webhook_events or [])},
        links=links(job.id),
    )
    return JobResource.model_validate(view).model_dump(mode="json")


def job_summary(job: Job) -> dict[str, Any]:
    error = job_error(job.status, job.error_code, job.error_message)
    summary = {
        "id": job.id,
        "status": job.status,
        "task": job.task,
        "model": job.model,
        "error": error,
        "metadata": job.job_metadata or {},
        "created_at": job.created_at.isoformat(),
        "finished_at": iso(job.finished_at),
        "links": links(job.id),
    }
    return JobSummary.model_validate(summary).model_dump(mode="json")


def delivery_resource(session: Session, row: WebhookDelivery) -> dict[str, Any]:
    attempts = delivery_attempts(session, row.id)
    view = {
        "id": row.id,
        "job_id": row.job_id,
        "event": row.event,
        "url": row.url,
        "webhook_id": row.webhook_id,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": iso(row.next_attempt_at),
        "last_status_code": row.last_status_code,
        "last_error": row.last_error,
        "created_at": row.created_at.isoformat(),
        "attempt_log": [
            {
                "attempted_at": a.attempted_at.isoformat(),
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in attempts
        ],
    }
    return DeliveryView.model_validate(view).model_dump(mode="json")
