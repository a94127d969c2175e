"""Sending webhook deliveries from the outbox, one attempt per task run.

Each delivery keeps one ``webhook-id`` for all its attempts; every attempt is recorded. Only 2xx
is success, redirects are not followed, 410 disables the URL for the producer, Retry-After is
honoured, and retries follow the (scalable) schedule with jitter.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from imagejobs.net.fetch import GuardedFetcher
from imagejobs.runtime import Runtime
from imagejobs.settings import Settings
from imagejobs.store.db import Database
from imagejobs.store.models import Producer, WebhookAttempt, WebhookDelivery, utcnow
from imagejobs.webhooks.schedule import next_delay
from imagejobs.webhooks.sender import deliver

log = logging.getLogger(__name__)


def _in_flight_s(settings: Settings) -> float:
    """How long a claimed delivery is left alone before the sweeper tries it again."""
    return settings.webhook_timeout_s * 3 + 30


def due_delivery_ids(db: Database, limit: int = 500) -> list[str]:
    """Pending deliveries whose next attempt is due; they are pushed back while in flight."""
    now = utcnow()
    with db.session() as session:
        ids = list(
            session.scalars(
                select(WebhookDelivery.id)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
            )
        )
    return ids


def enqueue_pending(runtime: Runtime, job_id: str) -> None:
    """Send the job's new outbox rows now rather than at the next sweep."""
    with runtime.db.session() as session:
        ids = list(
            session.scalars(
                select(WebhookDelivery.id).where(
                    WebhookDelivery.job_id == job_id,
                    WebhookDelivery.status == "pending",
                    WebhookDelivery.attempts == 0,
                )
            )
        )
    for delivery_id in ids:
        runtime.queue.enqueue_delivery(delivery_id)


def _secrets(settings: Settings, producer: Producer | None) -> list[str]:
    if producer is not None and producer.webhook_secrets:
        return list(producer.webhook_secrets)
    if settings.webhook_secret is not None:
        return [settings.webhook_secret.get_secret_value()]
    return []


def send_delivery(runtime: Runtime, delivery_id: str) -> str:
    """Make one attempt at a due delivery. Returns its status afterwards."""
    settings = runtime.settings
    now = utcnow()
    with runtime.db.session() as session:
        claimed = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
            )
            .values(next_attempt_at=now + timedelta(seconds=_in_flight_s(settings)))
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        delivery = session.get(WebhookDelivery, delivery_id) if claimed else None
        producer = (
            session.get(Producer, delivery.producer_id)
            if delivery is not None and delivery.producer_id
            else None
        )
        secrets = _secrets(settings, producer)
    if delivery is None:
        return "skipped"
    if not secrets:
        return _record(
            runtime.db,
            delivery,
            None,
            "no webhook secret: create the producer's secret or set IMAGEJOBS_WEBHOOK_SECRET",
            final="failed",
        )
    outcome = deliver(
        GuardedFetcher.from_settings(settings, for_webhooks=True),
        delivery.url,
        secrets,
        delivery.webhook_id,
        delivery.payload.encode(),
    )
    if outcome.ok:
        return _record(runtime.db, delivery, outcome, None, final="succeeded")
    if outcome.disable_endpoint:
        return _record(runtime.db, delivery, outcome, outcome.error, final="disabled")
    delay = next_delay(
        delivery.attempts + 1, settings.webhook_delays(), retry_after=outcome.retry_after_s
    )
    if delay is None:
        return _record(runtime.db, delivery, outcome, outcome.error, final="failed")
    status = _record(runtime.db, delivery, outcome, outcome.error, retry_in=delay)
    if delay <= settings.park_after_s:
        runtime.queue.enqueue_delivery(delivery.id, countdown=delay)
    return status


def _record(
    db: Database,
    delivery: WebhookDelivery,
    outcome: object | None,
    error: str | None,
    *,
    final: str | None = None,
    retry_in: float | None = None,
) -> str:
    status_code = getattr(outcome, "status_code", None)
    with db.session() as session:
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                status_code=status_code,
                error=error,
                duration_ms=getattr(outcome, "duration_ms", None),
            )
        )
        row = session.get(WebhookDelivery, delivery.id)
        assert row is not None
        row.attempts += 1
        row.last_status_code = status_code
        row.last_error = error
        if final is not None:
            row.status = final
            row.next_attempt_at = None
        elif retry_in is not None:
            row.next_attempt_at = utcnow() + timedelta(seconds=retry_in)
        if final == "disabled" and row.producer_id:
            producer = session.get(Producer, row.producer_id)
            if producer is not None and row.url not in producer.disabled_webhook_urls:
                producer.disabled_webhook_urls = [*producer.disabled_webhook_urls, row.url]
        log.info(
            "webhook %s attempt %d: %s (%s)", row.webhook_id, row.attempts, status_code, row.status
        )
        return row.status
