"""Celery interop: apps that already run Celery submit jobs with one task name and a JSON dict.

    app.send_task("imagejobs.submit_job", args=[{
        "task": "detect",
        "images": [{"url": "https://..."}, {"data": "<base64>"}, {"sha256": "<blob hash>"}],
        "target": "cats",
        "producer": "shop",            # optional: the producer the job belongs to
        "idempotency_key": "order-42",  # optional: a retry with the same key is the same job
        "webhook_url": "https://...",  # and any other JobSpec field
    }], queue="imagejobs")

The payload goes through the same validation as the HTTP API and the same Postgres-first path
(:func:`imagejobs.submission.submit_job`). The task returns ``{"job_id": ..., "created": ...}``,
or ``{"error": {"status", "detail", "errors"}}`` for a bad payload: bad input is logged and never
retried.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from imagejobs.broker.names import SUBMIT_JOB
from imagejobs.intake.errors import InvalidRequest, bad
from imagejobs.intake.jobs import Limits, check_idempotency_key, parse_job
from imagejobs.runtime import Runtime
from imagejobs.store.producers import producer_id_by_name
from imagejobs.submission import IdempotencyConflict, ImagesRefused, submit_job
from worker import tasks

log = logging.getLogger(__name__)

ENVELOPE_FIELDS = ("producer", "idempotency_key")


def _error(status: int, detail: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"error": {"status": status, "detail": detail, "errors": errors or []}}


def _producer_id(runtime: Runtime, name: Any) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip():
        raise bad("producer", "must be a producer name")
    with runtime.db.session() as session:
        producer_id = producer_id_by_name(session, name.strip())
    if producer_id is None:
        raise bad("producer", f"no producer named {name!r}")
    return producer_id


def submit_payload(runtime: Runtime, payload: Any) -> dict[str, Any]:
    """Validate and submit one interop payload; never raises for bad input."""
    try:
        if not isinstance(payload, dict):
            raise bad("payload", "must be a JSON object")
        key = payload.get("idempotency_key")
        if key is not None and not isinstance(key, str):
            raise bad("idempotency_key", "must be a string")
        key = check_idempotency_key(key)
        producer_id = _producer_id(runtime, payload.get("producer"))
        limits = Limits.from_settings(runtime.settings)
        parsed = parse_job(payload, limits, allow_sha256=True, skip_fields=ENVELOPE_FIELDS)
        submitted = submit_job(
            runtime,
            parsed.spec,
            parsed.images,
            producer_id=producer_id,
            idempotency_key=key,
        )
    except InvalidRequest as exc:
        errors = [{"field": e.field, "message": e.message} for e in exc.errors]
        log.warning("interop submit refused: %s", exc.detail)
        return _error(exc.status, exc.detail, errors)
    except IdempotencyConflict as exc:
        log.warning("interop submit refused: %s", exc)
        return _error(422, f"idempotency_key: {exc}")
    except ImagesRefused as exc:  # e.g. a sha256 that names no stored image
        log.warning("interop submit refused: %s", exc)
        return _error(422, f"images: {exc}")
    log.info("interop submitted job %s (created=%s)", submitted.job_id, submitted.created)
    return {"job_id": submitted.job_id, "created": submitted.created}


@shared_task(name=SUBMIT_JOB, ignore_result=True)
def submit_job_task(payload: Any) -> dict[str, Any]:
    return submit_payload(tasks.runtime(), payload)
