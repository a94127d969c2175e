"""Putting job ids on the broker. The job row is always committed before this is called."""

from __future__ import annotations

import logging

from celery import Celery

from worker.celery_app import DELIVER_WEBHOOK, QUEUE, RUN_JOB, app

log = logging.getLogger(__name__)


def run_job_name(kind: str | None) -> str | None:
    """How a job's message is named in Flower and the logs: ``imagejobs.run_job detect``.

    Celery's ``shadow`` name; the job id is in the message's kwargs (``job_id=``). The job id
    is left out of the name so task names stay few (Flower groups and counts tasks by name).
    """
    return f"{RUN_JOB} {kind}" if kind else None


def enqueue_job(
    job_id: str,
    *,
    kind: str | None = None,
    countdown: float | None = None,
    priority: int = 0,
    celery: Celery | None = None,
) -> bool:
    """Send ``job_id`` to the workers. On a broker failure the sweeper sends it later.

    ``kind`` is the job's task (caption, detect, ...), shown in Flower. ``priority`` is the job's
    0..9 (9 most urgent); Celery on Redis serves 0 first, so it is inverted here. Returns False
    if the broker refused the message.
    """
    try:
        (celery or app).send_task(
            RUN_JOB,
            kwargs={"job_id": job_id},
            shadow=run_job_name(kind),
            countdown=countdown,
            queue=QUEUE,
            priority=9 - priority,
        )
    except Exception as exc:
        log.warning("could not enqueue job %s (%r); the sweeper will send it", job_id, exc)
        return False
    return True


def enqueue_delivery(
    delivery_id: str, *, countdown: float | None = None, celery: Celery | None = None
) -> bool:
    try:
        (celery or app).send_task(
            DELIVER_WEBHOOK, args=[delivery_id], countdown=countdown, queue=QUEUE
        )
    except Exception as exc:
        log.warning(
            "could not enqueue webhook delivery %s (%r); the sweeper will send it", delivery_id, exc
        )
        return False
    return True
