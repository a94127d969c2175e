"""The sweeper: sends messages for jobs that need one (parked and now due, never enqueued because
the broker was down, or held by a lease that expired), and for webhook deliveries that are due.

It runs as a thread inside every worker; sending a job twice is harmless because of the lease.
A job counts as sent only once the broker took its message, and a sweep stops at the first
refusal (the broker is down: the next sweep tries again).

A broker that lost its messages (Redis restarted without persistence, flushed, or failed over to
an empty replica) is noticed at once by :class:`imagejobs.broker.watch.BrokerWatch`, and every
queued job is sent again as soon as it is due, instead of after the resend window of
``max(lease, 60 s)``.
"""

from __future__ import annotations

import logging
import threading

from imagejobs.broker.watch import BrokerWatch
from imagejobs.observability.metrics import SWEEPER_ERRORS, observe_sweep
from imagejobs.runtime import Runtime
from imagejobs.store.jobs import due_job_ids, mark_all_unsent, mark_enqueued
from imagejobs.store.outbox import due_delivery_ids

log = logging.getLogger(__name__)

BATCH = 500  # jobs read per query; a sweep goes on while whole batches were sent


def sweep_once(runtime: Runtime, *, watch: BrokerWatch | None = None) -> int:
    """One sweep; returns how many messages the broker took."""
    broker_lost = False
    if watch is not None and watch.lost_messages():
        with runtime.db.session() as session:
            queued = mark_all_unsent(session)
        watch.remember()
        if queued:
            broker_lost = True
            log.warning("the broker lost its messages: sending %d queued jobs again", queued)
    jobs, refused = _send_due_jobs(runtime)
    deliveries = 0 if refused else _send_due_deliveries(runtime)
    observe_sweep(jobs, deliveries, broker_lost)
    return jobs + deliveries


def _send_due_jobs(runtime: Runtime) -> tuple[int, bool]:
    """Messages for the due jobs: how many the broker took, and whether it refused one."""
    settings, db, queue = runtime.settings, runtime.db, runtime.queue
    sent = 0
    while True:
        # Rows stay locked while their messages go out, so sweepers of other processes skip
        # them rather than sending them too.
        with db.session() as session:
            due = due_job_ids(
                session, stale_s=max(settings.lease_s, 60.0), limit=BATCH, skip_locked=True
            )
            taken = []
            for job in due:
                if not queue.enqueue_job(job.id, kind=job.task, priority=job.priority):
                    break
                taken.append(job.id)
            stamped = mark_enqueued(session, taken)
        sent += len(taken)
        if len(taken) < len(due):
            return sent, True  # the broker refuses: the rest, and deliveries, wait
        if len(due) < BATCH or not stamped:
            return sent, False  # all sent (or a whole batch of expired leases, not stamped)


def _send_due_deliveries(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        delivery_ids = due_delivery_ids(session)
    sent = 0
    for delivery_id in delivery_ids:
        if not runtime.queue.enqueue_delivery(delivery_id):
            break
        sent += 1
    return sent


class Sweeper(threading.Thread):
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(name="imagejobs-sweeper", daemon=True)
        self.runtime = runtime
        self.settings = runtime.settings
        self.watch = BrokerWatch.for_broker(runtime.settings.effective_broker_url)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.settings.sweep_interval_s):
            try:
                count = sweep_once(self.runtime, watch=self.watch)
                if count:
                    log.info("sweeper sent %d messages", count)
            except Exception:
                SWEEPER_ERRORS.inc()
                log.exception(
                    "sweep failed; trying again in %.0f s", self.settings.sweep_interval_s
                )
        if self.watch is not None:
            self.watch.close()

    def stop(self) -> None:
        self.stopped.set()
