"""Before a job is claimed: which job this wake-up runs, and whether its call may go out now.

A job message is a wake-up. With quota governance on, the worker that takes one:

1. picks the job to run by fair shares (:class:`FairPicker`): the message's own job while only
   one producer has jobs waiting, else the next job of the producer furthest behind its
   weighted share (so a backlog of 50,000 jobs cannot starve a producer with five);
2. asks the quota gate (:meth:`Governor.admit`) for a call on the job's model or, when that
   one's breaker is open, the next model of its fallback chain;
3. claims the job only once admitted. A job that cannot be sent soon is postponed in Postgres
   (no thread waits for it, no attempt is used) and sent again when its wait is over.

Every due job still has a message of its own somewhere, so the wake-ups add up to the jobs even
when one runs another's job. Governance off (no Redis): the message's job, claimed at once.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass

from imagejobs.core.fairshare import ProducerLoad
from imagejobs.execution.governor import Admission, Deferred, Governor
from imagejobs.governance.fair import SharedFairShare
from imagejobs.runtime import Runtime
from imagejobs.store.scheduling import (
    JobPeek,
    next_due_job,
    peek_job,
    postpone,
    running_by_producer,
    waiting_by_producer,
)

log = logging.getLogger(__name__)

LOADS_TTL_S = 0.5  # how long a process reuses its view of who is waiting
ROUGH_IMAGE_TOKENS = 1_100  # a first attempt's token charge per image, before its quote exists
OVERLOADED = "gemini_503"


@dataclass(frozen=True)
class Ticket:
    """The job to claim now, and the call admitted for it (None: governance is off)."""

    job_id: str
    admission: Admission | None = None
    peek: JobPeek | None = None


@dataclass(frozen=True)
class Postponed:
    job_id: str
    how: str | None  # "retry" (a delayed message was sent), "park" (the sweeper sends it)
    delay_s: float
    reason: str


def model_chain(peek: JobPeek, governor: Governor) -> list[str]:
    """The models a job may run on, in the order to try: its own, then its fallbacks (its own
    list, else the task's default chain); after a 503 its own model goes last."""
    fallbacks = peek.fallback_models or list(governor.config.fallback_chain(peek.task))
    chain = list(dict.fromkeys([peek.model, *fallbacks]))
    if peek.last_error == OVERLOADED and len(chain) > 1:
        chain = [*chain[1:], chain[0]]
    return chain


def rough_tokens(peek: JobPeek) -> int:
    return peek.estimated_tokens or ROUGH_IMAGE_TOKENS * max(1, peek.image_count) + 200


class FairPicker:
    """Fair shares across the fleet: loads read from Postgres (reused for half a second per
    process), virtual times in Redis."""

    def __init__(self, runtime: Runtime, fair: SharedFairShare) -> None:
        self.runtime = runtime
        self.fair = fair
        self.config = runtime.governor.config
        self._loads: list[ProducerLoad] = []
        self._read_at = -1.0
        self._lock = threading.Lock()

    def loads(self) -> list[ProducerLoad]:
        with self._lock:
            if time.monotonic() - self._read_at > LOADS_TTL_S:
                with self.runtime.db.session() as session:
                    waiting = waiting_by_producer(session)
                    running = running_by_producer(session)
                self._loads = [
                    self._load(name, count, running.get(name, 0)) for name, count in waiting.items()
                ]
                self._read_at = time.monotonic()
            return list(self._loads)

    def _load(self, producer: str, waiting: int, running: int) -> ProducerLoad:
        limits = self.config.limits_of(producer)
        return ProducerLoad(
            producer,
            waiting,
            running,
            self.config.weight_for(producer),
            limits.max_running,
            limits.rate_per_min,
        )

    def pick(self, message_job_id: str) -> str:
        loads = self.loads()
        if len(loads) <= 1 and not self.config.producer_limits:
            return message_job_id
        choice = self.fair.choose(loads)
        if choice.producer is None:
            return message_job_id
        with self.runtime.db.session() as session:
            return next_due_job(session, choice.producer) or message_job_id

    def claimed(self, producer: str) -> None:
        if len(self._loads) <= 1 and not self.config.producer_limits:
            return  # alone: nobody's share to keep (an idle producer is lifted when it returns)
        self.fair.dispatched(self._load(producer, 1, 0))


_pickers: dict[int, FairPicker] = {}
_pickers_lock = threading.Lock()


def fair_picker(runtime: Runtime) -> FairPicker | None:
    """The process's picker for ``runtime`` (None without governance Redis)."""
    client = runtime.governor.client
    if client is None:
        return None
    with _pickers_lock:
        picker = _pickers.get(id(runtime))
        if picker is None or picker.runtime is not runtime:
            picker = _pickers[id(runtime)] = FairPicker(runtime, SharedFairShare(client))
        return picker


def prepare(runtime: Runtime, message_job_id: str) -> Ticket | Postponed:
    """The job to claim for this message, with its call admitted; or the job postponed."""
    governor = runtime.governor
    if not governor.enabled:
        return Ticket(message_job_id)
    picker = fair_picker(runtime)
    job_id = picker.pick(message_job_id) if picker is not None else message_job_id
    with runtime.db.session() as session:
        peek = peek_job(session, job_id)
    if peek is None:  # not due (done, running, not yet): the claim decides what to do
        return Ticket(job_id)
    try:
        admission = governor.admit(model_chain(peek, governor), rough_tokens(peek))
    except Deferred as wait:
        return _postpone(runtime, peek, wait)
    return Ticket(job_id, admission, peek)


def _postpone(runtime: Runtime, peek: JobPeek, wait: Deferred) -> Postponed:
    settings = runtime.settings
    delay = wait.delay_s + random.uniform(0, max(0.2, wait.delay_s * 0.2))  # no herd
    with runtime.db.session() as session:
        how = postpone(
            session,
            peek.id,
            delay_s=delay,
            park_after_s=settings.park_after_s,
            reason=wait.reason,
            message=wait.message,
        )
    if how == "retry":
        runtime.queue.enqueue_job(peek.id, kind=peek.task, countdown=delay)
    log.info("job %s: postponed %.1f s (%s)", peek.id, delay, wait.reason)
    return Postponed(peek.id, how, delay, wait.reason)
