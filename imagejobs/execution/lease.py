"""A worker's hold on one job while the database may be briefly unreachable.

A write that ends an attempt (its Gemini answer is paid for) is tried again, with backoff, while
the database is unreachable; between tries the lease is extended (once the database answers), so
no other worker starts the job over meanwhile. Only a lease found to be someone else's stops it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError

from imagejobs.execution.failures import LeaseLost
from imagejobs.observability.metrics import LEASES_LOST
from imagejobs.store.db import Database
from imagejobs.store.jobs import extend_lease, still_owned

log = logging.getLogger(__name__)

T = TypeVar("T")

# The database is unreachable (a restart, a failover, too many clients): worth trying again.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
WRITE_RETRY_FIRST_S = 0.5  # the first wait before writing again; doubles up to the next
WRITE_RETRY_MAX_S = 15.0


@dataclass
class Lease:
    db: Database
    job_id: str
    owner: str
    lease_s: float

    def written(self, write: Callable[[], T]) -> T | None:
        """``write`` (one short transaction) and its result; None if the lease was lost while
        the database was unreachable."""
        try:
            return self.until_reachable(write, "write the outcome")
        except LeaseLost:
            return None

    def keep(self) -> None:
        """Renew the lease between calls; raises :class:`LeaseLost` if it is no longer ours or
        the producer asked to cancel."""

        def extend() -> bool:
            with self.db.session() as session:
                return still_owned(session, self.job_id, self.owner) and extend_lease(
                    session, self.job_id, self.owner, lease_s=self.lease_s
                )

        if not self.until_reachable(extend, "extend the lease"):
            raise LeaseLost()

    def until_reachable(self, action: Callable[[], T], what: str) -> T:
        """``action`` (one short transaction), tried again while the database is unreachable.

        Raises :class:`LeaseLost` once the lease is found to be someone else's (it expired
        during the outage and was taken).
        """
        wait = WRITE_RETRY_FIRST_S
        while True:
            try:
                return action()
            except DATABASE_UNAVAILABLE as exc:
                log.warning(
                    "job %s: could not %s, the database is unreachable (%s); trying again in "
                    "%.1f s",
                    self.job_id,
                    what,
                    type(exc).__name__,
                    wait,
                )
            time.sleep(wait * random.uniform(0.8, 1.2))
            wait = min(WRITE_RETRY_MAX_S, wait * 2)
            if self._extend() is False:
                log.warning("job %s: lease lost while the database was unreachable", self.job_id)
                LEASES_LOST.labels("outage").inc()
                raise LeaseLost()

    def _extend(self) -> bool | None:
        """Extend the lease: True if held, False if someone else's, None while unreachable."""
        try:
            with self.db.session() as session:
                return extend_lease(session, self.job_id, self.owner, lease_s=self.lease_s)
        except DATABASE_UNAVAILABLE:
            return None  # still unreachable: the lease stays as it was
