"""The queue depth, read at scrape time: jobs not finished yet (Postgres) and messages waiting
on the broker (Redis). Served by the API's ``/metrics`` only (``IMAGEJOBS_METRICS_QUEUE_DEPTH``),
so a fleet of workers does not report it many times over.

A source that cannot be read leaves its gauges out and says so in ``imagejobs_queue_depth_up``
(0); the embedded SQLite broker cannot be asked, so its message count is always left out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from imagejobs.broker.depth import BrokerDepth
from imagejobs.broker.names import QUEUE
from imagejobs.store.db import Database
from imagejobs.store.depth import ActiveJobs, active_jobs

log = logging.getLogger(__name__)


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
    jobs = GaugeMetricFamily(
        "imagejobs_queue_jobs",
        "Jobs not finished, by status (queued, running), counted in Postgres at scrape time",
        labels=["status"],
    )
    waiting = GaugeMetricFamily(
        "imagejobs_queue_jobs_waiting",
        "Queued jobs not due yet (a retry's backoff, or parked), counted at scrape time",
    )
    messages = GaugeMetricFamily(
        "imagejobs_broker_messages",
        "Messages waiting on the broker's queue (Redis LLEN of its priority lists)",
        labels=["queue"],
    )
    return jobs, waiting, messages


def _up() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "imagejobs_queue_depth_up",
        "1 if the queue depth source (database, broker) could be read at this scrape, else 0",
        labels=["source"],
    )


class QueueDepthCollector(Collector):
    """Jobs by status and broker messages, read when Prometheus scrapes."""

    def __init__(self, db: Database, broker: BrokerDepth | None) -> None:
        self.db = db
        self.broker = broker

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from _families()
        yield _up()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs, waiting, messages = _families()
        up = _up()
        counts = self._jobs()
        up.add_metric(["database"], 0 if counts is None else 1)
        if counts is not None:
            jobs.add_metric(["queued"], counts.queued)
            jobs.add_metric(["running"], counts.running)
            waiting.add_metric([], counts.waiting)
        length = self._messages()
        up.add_metric(["broker"], 0 if length is None else 1)
        if length is not None:
            messages.add_metric([QUEUE], length)
        yield from (jobs, waiting, messages, up)

    def _jobs(self) -> ActiveJobs | None:
        try:
            with self.db.session() as session:
                return active_jobs(session)
        except Exception as exc:
            log.warning("queue depth: the database could not be read (%s)", type(exc).__name__)
            return None

    def _messages(self) -> int | None:
        if self.broker is None:
            return None
        try:
            return self.broker.messages()
        except Exception as exc:
            log.warning("queue depth: the broker could not be read (%s)", type(exc).__name__)
            return None
