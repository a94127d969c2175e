"""The sweeper: sends messages for jobs that need one (parked and now due, never enqueued because
the broker was down, or held by a lease that expired), and for webhook deliveries that are due.

It runs as a thread inside every worker; sending a job twice is harmless because of the lease.
"""

from __future__ import annotations

import logging
import threading

from imagejobs.settings import Settings
from imagejobs.store.db import session_scope
from imagejobs.store.jobs import due_job_ids
from worker.deliveries import due_delivery_ids
from worker.queue import enqueue_delivery, enqueue_job

log = logging.getLogger(__name__)


def sweep_once(settings: Settings) -> int:
    with session_scope(settings.effective_database_url) as session:
        due = due_job_ids(session, stale_s=max(settings.lease_s, 60.0))
    for job_id, priority in due:
        enqueue_job(job_id, priority=priority)
    deliveries = due_delivery_ids(settings)
    for delivery_id in deliveries:
        enqueue_delivery(delivery_id)
    return len(due) + len(deliveries)


class Sweeper(threading.Thread):
    def __init__(self, settings: Settings) -> None:
        super().__init__(name="imagejobs-sweeper", daemon=True)
        self.settings = settings
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.settings.sweep_interval_s):
            try:
                count = sweep_once(self.settings)
                if count:
                    log.info("sweeper sent %d messages", count)
            except Exception:
                log.exception(
                    "sweep failed; trying again in %.0f s", self.settings.sweep_interval_s
                )

    def stop(self) -> None:
        self.stopped.set()
