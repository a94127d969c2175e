"""The webhook outbox: delivery rows written with a job's state change, their attempts, and the
guarded claim that keeps two workers from sending the same attempt."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from imagejobs.core.jobspec import job_error
from imagejobs.store.models import Job, Producer, WebhookAttempt, WebhookDelivery, new_id, utcnow
from imagejobs.store.producers import disable_webhook_url, enable_webhook_url
from imagejobs.webhooks.payload import build_event, encode_event


def add_webhook_event(
    session: Session,
    job: Job,
    event: str,
    *,
    links: dict[str, str],
    summary: dict[str, Any],
    once: bool = False,
) -> WebhookDelivery | None:
    """Write an outbox row if the job wants ``event`` and its endpoint is not disabled
    (``once``: and no row for that event was written before)."""
    if not job.webhook_url or event not in (job.webhook_events or []):
        return None
    if once and session.scalar(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.job_id == job.id, WebhookDelivery.event == event)
        .limit(1)
    ):
        return None
    if job.producer_id:
        producer = session.get(Producer, job.producer_id)
        if producer is not None and job.webhook_url in (producer.disabled_webhook_urls or []):
            return None
    payload = build_event(
        event,
        {
            "id": job.id,
            "status": job.status,
            "task": job.task,
            "model": job.model,
            "error": _error(job),
        },
        links,
        job.job_metadata,
        summary,
    )
    delivery = WebhookDelivery(
        id=new_id(),
        job_id=job.id,
        producer_id=job.producer_id,
        event=event,
        url=job.webhook_url,
        webhook_id="msg_" + new_id(),
        payload=encode_event(payload).decode(),
        status="pending",
        next_attempt_at=utcnow(),
    )
    session.add(delivery)
    return delivery


def _error(job: Job) -> dict[str, str | None] | None:
    return job_error(job.status, job.error_code, job.error_message or "")


def due_delivery_ids(
    session: Session, *, limit: int = 500, now: datetime | None = None
) -> list[str]:
    """Pending deliveries whose next attempt is due, the longest waiting first."""
    return list(
        session.scalars(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= (now or utcnow()),
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        )
    )


def new_delivery_ids(session: Session, job_id: str) -> list[str]:
    """The job's pending deliveries never attempted yet (to send now rather than at a sweep)."""
    return list(
        session.scalars(
            select(WebhookDelivery.id).where(
                WebhookDelivery.job_id == job_id,
                WebhookDelivery.status == "pending",
                WebhookDelivery.attempts == 0,
            )
        )
    )


def claim_delivery(
    session: Session, delivery_id: str, *, in_flight_s: float, now: datetime | None = None
) -> WebhookDelivery | None:
    """Take a due delivery for one attempt, pushing its next attempt ``in_flight_s`` away so the
    sweeper leaves it alone meanwhile. None: not pending, not due, or taken by another worker."""
    now = now or utcnow()
    claimed = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
        )
        .values(next_attempt_at=now + timedelta(seconds=in_flight_s))
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    return session.get(WebhookDelivery, delivery_id) if claimed else None


def record_attempt(
    session: Session,
    delivery_id: str,
    *,
    status_code: int | None,
    error: str | None,
    duration_ms: int | None,
    final: str | None = None,
    retry_in: float | None = None,
) -> WebhookDelivery:
    """Log one attempt and move the delivery on: to ``final`` (succeeded, failed, disabled: the
    URL is then disabled for its producer), or due again in ``retry_in`` seconds."""
    session.add(
        WebhookAttempt(
            delivery_id=delivery_id, status_code=status_code, error=error, duration_ms=duration_ms
        )
    )
    row = session.get(WebhookDelivery, delivery_id)
    if row is None:
        raise LookupError(f"no webhook delivery {delivery_id!r}")
    row.attempts += 1
    row.last_status_code = status_code
    row.last_error = error
    if final is not None:
        row.status = final
        row.next_attempt_at = None
    elif retry_in is not None:
        row.next_attempt_at = utcnow() + timedelta(seconds=retry_in)
    if final == "disabled" and row.producer_id:
        disable_webhook_url(session, row.producer_id, row.url)
    return row


def get_delivery(session: Session, delivery_id: str) -> WebhookDelivery | None:
    return session.get(WebhookDelivery, delivery_id)


def job_deliveries(session: Session, job_id: str) -> Sequence[WebhookDelivery]:
    """The job's deliveries, oldest first."""
    return session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.job_id == job_id)
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
    ).all()


def delivery_attempts(session: Session, delivery_id: str) -> Sequence[WebhookAttempt]:
    """Every attempt at a delivery, in order."""
    return session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.id)
    ).all()


def replay(session: Session, row: WebhookDelivery) -> None:
    """Make a delivery pending and due now (same webhook-id and body); a disabled one re-enables
    its URL for its producer."""
    if row.status == "disabled" and row.producer_id:
        enable_webhook_url(session, row.producer_id, row.url)
    row.status = "pending"
    row.next_attempt_at = utcnow()
