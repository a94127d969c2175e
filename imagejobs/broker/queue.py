"""Putting ids on the broker. The job row is always committed before this is called."""

from __future__ import annotations

import logging
import threading

from celery import Celery

from imagejobs.broker.app import make_celery
from imagejobs.broker.names import DELIVER_WEBHOOK, QUEUE, RUN_JOB, run_job_name
from imagejobs.settings import Settings

log = logging.getLogger(__name__)


class JobQueue:
    """Sends job and delivery ids to the workers; the Celery app is built on first send.

    A send that fails returns False and leaves the id to the sweeper: the row says it was not
    sent, and the sweeper sends it when the broker is back.
    """

    def __init__(self, settings: Settings, celery: Celery | None = None) -> None:
        self.settings = settings
        self._celery = celery
        self._lock = threading.Lock()

    @property
    def celery(self) -> Celery:
        with self._lock:
            if self._celery is None:
                self._celery = make_celery(self.settings)
            return self._celery

    def enqueue_job(
        self,
        job_id: str,
        *,
        kind: str | None = None,
        countdown: float | None = None,
        priority: int = 0,
    ) -> bool:
        """Send ``job_id`` to the workers; False if the broker refused the message.

        ``kind`` is the job's task (caption, detect, ...), shown in Flower. ``priority`` is the
        job's 0..9 (9 most urgent); Celery on Redis serves 0 first, so it is inverted here.
        """
        try:
            self.celery.send_task(
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

    def enqueue_delivery(self, delivery_id: str, *, countdown: float | None = None) -> bool:
        try:
            self.celery.send_task(
                DELIVER_WEBHOOK, args=[delivery_id], countdown=countdown, queue=QUEUE
            )
        except Exception as exc:
            log.warning(
                "could not enqueue webhook delivery %s (%r); the sweeper will send it",
                delivery_id,
                exc,
            )
            return False
        return True

    def reachable(self) -> bool:
        """True if the broker answers a connection now (for health checks)."""
        try:
            with self.celery.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
        except Exception:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            if self._celery is not None:
                self._celery.close()
