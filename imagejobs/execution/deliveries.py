"""Sending webhook deliveries from the outbox, one attempt per task run.

Each delivery keeps one ``webhook-id`` for all its attempts; every attempt is recorded. Only 2xx
is success, redirects are not followed, 410 disables the URL for the producer, Retry-After is
honoured, and retries follow the (scalable) schedule with jitter.
"""

from __future__ import annotations

import logging

from imagejobs.net.fetch import GuardedFetcher
from imagejobs.observability.metrics import observe_webhook_attempt
from imagejobs.runtime import Runtime
from imagejobs.settings import Settings
from imagejobs.store.db import Database
from imagejobs.store.models import WebhookDelivery
from imagejobs.store.outbox import claim_delivery, new_delivery_ids, record_attempt
from imagejobs.store.producers import webhook_secrets
from imagejobs.webhooks.schedule import next_delay
from imagejobs.webhooks.sender import deliver

log = logging.getLogger(__name__)


def _in_flight_s(settings: Settings) -> float:
    """How long a claimed delivery is left alone before the sweeper tries it again."""
    return settings.webhook_timeout_s * 3 + 30


def enqueue_pending(runtime: Runtime, job_id: str) -> None:
    """Send the job's new outbox rows now rather than at the next sweep."""
    with runtime.db.session() as session:
        ids = new_delivery_ids(session, job_id)
    enqueue_deliveries(runtime, ids)


def enqueue_deliveries(runtime: Runtime, delivery_ids: list[str]) -> None:
    """Queue these committed outbox rows now; one the broker refuses waits for the sweeper."""
    for delivery_id in delivery_ids:
        runtime.queue.enqueue_delivery(delivery_id)


def _secrets(settings: Settings, producer_secrets: list[str]) -> list[str]:
    if producer_secrets:
        return producer_secrets
    if settings.webhook_secret is not None:
        return [settings.webhook_secret.get_secret_value()]
    return []


def send_delivery(runtime: Runtime, delivery_id: str) -> str:
    """Make one attempt at a due delivery. Returns its status afterwards."""
    settings = runtime.settings
    with runtime.db.session() as session:
        delivery = claim_delivery(session, delivery_id, in_flight_s=_in_flight_s(settings))
        if delivery is None:
            return "skipped"
        secrets = _secrets(settings, webhook_secrets(session, delivery.producer_id))
    if not secrets:
        return _record(
            runtime.db,
            delivery,
            None,
            "no webhook secret: create the producer's secret or set IMAGEJOBS_WEBHOOK_SECRET",
            final="failed",
            not_sent="no_secret",
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
    not_sent: str | None = None,
) -> str:
    status_code = getattr(outcome, "status_code", None)
    with db.session() as session:
        row = record_attempt(
            session,
            delivery.id,
            status_code=status_code,
            error=error,
            duration_ms=getattr(outcome, "duration_ms", None),
            final=final,
            retry_in=retry_in,
        )
        log.info(
            "webhook %s attempt %d: %s (%s)", row.webhook_id, row.attempts, status_code, row.status
        )
        status = row.status
    observe_webhook_attempt(status_code, final, outcome=not_sent)
    return status
