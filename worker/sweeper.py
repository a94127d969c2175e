"""The sweeper: sends messages for jobs that need one (parked and now due, never enqueued because
the broker was down, or held by a lease that expired), and for webhook deliveries that are due.

It runs as a thread inside every worker; sending a job twice is harmless because of the lease.
A job counts as sent only once the broker took its message, and a sweep stops at the first
refusal (the broker is down: the next sweep tries again).

A broker that lost its messages (Redis restarted without persistence, flushed, or failed over to
an empty replica) is noticed at once by :class:`BrokerWatch`, and every queued job is sent again
as soon as it is due, instead of after the resend window of ``max(lease, 60 s)``.
"""

from __future__ import annotations

import logging
import threading

import redis
from celery import Celery

from imagejobs.settings import Settings
from imagejobs.store.db import session_scope
from imagejobs.store.jobs import due_job_ids, mark_all_unsent, mark_enqueued
from worker.deliveries import due_delivery_ids
from worker.queue import enqueue_delivery, enqueue_job

log = logging.getLogger(__name__)

BATCH = 500  # jobs read per query; a sweep goes on while whole batches were sent


class BrokerWatch:
    """Notices that the broker's Redis lost its data, with a marker key in the broker's database.

    The key is named after the server's ``run_id`` (new at every Redis start): it is missing
    after a restart, a flush or a failover to an empty replica. It is set again only after the
    queued jobs were marked for sending, so a sweep that fails half way is done again. A missing
    key at the first look (a new broker, or one wiped while no worker ran) counts too: sending
    again costs duplicates only, which the job claim makes harmless.
    """

    KEY = "_imagejobs.broker_marker:{run_id}"

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.key: str | None = None

    @classmethod
    def for_broker(cls, url: str) -> BrokerWatch | None:
        """A watch for a Redis broker; None for brokers without one (the embedded SQLite)."""
        return cls(url) if url.startswith(("redis://", "rediss://")) else None

    def lost_messages(self) -> bool | None:
        """True if the broker lost its data since the marker was set; None if it cannot be
        asked now (the sends will fail too, and the next sweep asks again)."""
        try:
            try:
                run_id = str(self.client.info("server").get("run_id", ""))
            except redis.ResponseError:  # INFO refused (a proxy): the key alone tells a flush
                run_id = ""
            self.key = self.KEY.format(run_id=run_id)
            return not self.client.exists(self.key)
        except redis.RedisError as exc:
            log.warning("sweeper: cannot ask the broker whether it kept its messages (%r)", exc)
            return None

    def remember(self) -> None:
        """Set the marker: the jobs the broker lost are marked for sending."""
        if self.key is not None:
            self.client.set(self.key, "1")

    def close(self) -> None:
        self.client.close()


def sweep_once(
    settings: Settings, *, celery: Celery | None = None, watch: BrokerWatch | None = None
) -> int:
    """One sweep; returns how many messages the broker took."""
    url = settings.effective_database_url
    if watch is not None and watch.lost_messages():
        with session_scope(url) as session:
            queued = mark_all_unsent(session)
        watch.remember()
        if queued:
            log.warning("the broker lost its messages: sending %d queued jobs again", queued)
    sent = 0
    while True:
        # Rows stay locked while their messages go out, so sweepers of other processes skip
        # them rather than sending them too.
        with session_scope(url) as session:
            due = due_job_ids(
                session, stale_s=max(settings.lease_s, 60.0), limit=BATCH, skip_locked=True
            )
            taken = []
            for job in due:
                if not enqueue_job(job.id, kind=job.task, priority=job.priority, celery=celery):
                    break
                taken.append(job.id)
            stamped = mark_enqueued(session, taken)
        sent += len(taken)
        if len(taken) < len(due):
            return sent  # the broker refuses: the rest, and deliveries, wait for the next sweep
        if len(due) < BATCH or not stamped:
            break  # all sent (or a whole batch of expired leases, which are not stamped)
    for delivery_id in due_delivery_ids(settings):
        if not enqueue_delivery(delivery_id, celery=celery):
            break
        sent += 1
    return sent


class Sweeper(threading.Thread):
    def __init__(self, settings: Settings, celery: Celery | None = None) -> None:
        super().__init__(name="imagejobs-sweeper", daemon=True)
        self.settings = settings
        self.celery = celery
        self.watch = BrokerWatch.for_broker(settings.effective_broker_url)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.settings.sweep_interval_s):
            try:
                count = sweep_once(self.settings, celery=self.celery, watch=self.watch)
                if count:
                    log.info("sweeper sent %d messages", count)
            except Exception:
                log.exception(
                    "sweep failed; trying again in %.0f s", self.settings.sweep_interval_s
                )
        if self.watch is not None:
            self.watch.close()

    def stop(self) -> None:
        self.stopped.set()
