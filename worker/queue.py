"""Putting job ids on the broker. The job row is always committed before this is called."""

from __future__ import annotations

import logging

from worker.celery_app import DELIVER_WEBHOOK, QUEUE, RUN_JOB, app

log = logging.getLogger(__name__)


def enqueue_job(job_id: str, *, countdown: float | None = None, priority: int = 0) -> bool:
    """Send ``job_id`` to the workers. On a broker failure the sweeper sends it later.

    ``priority`` is the job's 0..9 (9 most urgent); Celery on Redis serves 0 first, so it is
    inverted here.
    """
    try:
        app.send_task(
            RUN_JOB, args=[job_id], countdown=countdown, queue=QUEUE, priority=9 - priority
        )
    except Exception:
        log.exception("could not enqueue job %s; the sweeper will retry", job_id)
        return False
    return True


def enqueue_delivery(delivery_id: str, *, countdown: float | None = None) -> bool:
    try:
        app.send_task(DELIVER_WEBHOOK, args=[delivery_id], countdown=countdown, queue=QUEUE)
    except Exception:
        log.exception("could not enqueue webhook delivery %s; the sweeper will retry", delivery_id)
        return False
    return True
