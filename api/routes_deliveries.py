"""Webhook deliveries (list, replay) and the producer's webhook secret rotation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ProducerDep, RuntimeDep
from api.problems import Problem
from api.resources import delivery_resource, owned_delivery, owned_job
from api.schemas import DeliveryList, DeliveryView, SecretRotation, WebhookSecrets
from imagejobs.store.outbox import job_deliveries, replay
from imagejobs.store.producers import rotate_secret_by_id

router = APIRouter(prefix="/v1", tags=["webhooks"])

P401: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, unknown or revoked API key", "model": Problem}
}


@router.get(
    "/jobs/{job_id}/deliveries",
    response_model=DeliveryList,
    summary="A job's webhook deliveries, each with every attempt",
    responses={**P401, 404: {"description": "No such job", "model": Problem}},
)
def list_deliveries(job_id: str, runtime: RuntimeDep, producer: ProducerDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        owned_job(session, job_id, producer.id)
        rows = job_deliveries(session, job_id)
        return {"items": [delivery_resource(session, row) for row in rows]}


@router.post(
    "/deliveries/{delivery_id}/replay",
    response_model=DeliveryView,
    status_code=202,
    summary="Send a delivery again",
    description=(
        "The same message (same webhook-id and body) goes back to pending and is sent now, "
        "then retried on the usual schedule; earlier attempts stay in its log. Replaying a "
        "delivery whose endpoint answered 410 re-enables that endpoint for this producer."
    ),
    responses={**P401, 404: {"description": "No such delivery", "model": Problem}},
)
def replay_delivery(delivery_id: str, runtime: RuntimeDep, producer: ProducerDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        replay(session, owned_delivery(session, delivery_id, producer.id))
    runtime.queue.enqueue_delivery(delivery_id)
    with runtime.db.session() as session:
        return delivery_resource(session, owned_delivery(session, delivery_id, producer.id))


@router.post(
    "/webhook-secret/rotate",
    response_model=WebhookSecrets,
    summary="Rotate the webhook signing secret",
    description=(
        "Without `finish`: a new secret is added first and the previous one kept, so both sign "
        "every delivery while receivers switch. With `finish: true`: only the newest is kept."
    ),
    responses={**P401},
)
def rotate(
    runtime: RuntimeDep, producer: ProducerDep, body: SecretRotation | None = None
) -> dict[str, Any]:
    finish = body.finish if body is not None else False
    with runtime.db.session() as session:
        info = rotate_secret_by_id(session, producer.id, finish=finish)
    return {"secrets": info.webhook_secrets}
