"""Which job a wake-up runs: fair shares between producers, across the fleet.

A job message is a wake-up. While only one producer has jobs due, the worker runs the message's
own job. With several, it runs the next job (priority first, then oldest) of the producer
furthest behind its weighted share (virtual times in Redis: :mod:`imagejobs.governance.fair`),
so a backlog of 50,000 jobs cannot starve a producer with five, and per-producer caps
(``max_running``, ``rate_per_min``) hold. Every due job still has a message of its own, so the
wake-ups add up to the jobs even when one runs another's job. Governance off (no Redis): always
the message's own job.

For a model with a quota, the first call is admitted before anything is claimed
(:func:`gate_first_call`: slot first, pick later), so the fair pick is made at the moment a call
may go out, among the due jobs of the admitted model; a wake-up the pace has no room for is sent
again later and writes nothing, its job staying due. Otherwise the claimed job's gate decides
(:mod:`imagejobs.execution.calls`): a job that cannot be sent soon goes back to the queue with
its attempt given back, before its images are even read.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session

from imagejobs.core.fairshare import ProducerLoad
from imagejobs.execution.calls import model_chain, rough_tokens
from imagejobs.execution.result_reuse import would_answer
from imagejobs.governance.fair import SharedFairShare
from imagejobs.governance.governor import Admission, Deferred
from imagejobs.runtime import Runtime
from imagejobs.store.scheduling import (
    LOCAL_PRODUCER,
    next_due_job,
    peek_due,
    producer_name,
    running_by_producer,
    waiting_by_producer,
)

LOADS_TTL_S = 0.5  # how long a process reuses its view of who is waiting


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

    def pick(self, message_job_id: str, model: str | None = None) -> str:
        """The job to run for this wake-up (``model``: a call on it is admitted already)."""
        loads = self.loads()
        if len(loads) <= 1 and not self.config.producer_limits:
            return message_job_id
        choice = self.fair.choose(loads)
        if choice.producer is None:
            return message_job_id
        with self.runtime.db.session() as session:
            return next_due_job(session, choice.producer, model=model) or message_job_id

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


def pick_job(
    runtime: Runtime, message_job_id: str, model: str | None = None
) -> tuple[str, FairPicker | None]:
    """The job this wake-up runs, and the picker to tell once its call is admitted (None: no
    governance Redis, the message's own job)."""
    picker = fair_picker(runtime)
    if picker is None:
        return message_job_id, None
    return picker.pick(message_job_id, model), picker


_names: dict[str, str] = {}


def producer_of(session: Session, producer_id: str | None) -> str:
    """The producer's name (budgets and shares are set by name), remembered per process."""
    if producer_id is None:
        return LOCAL_PRODUCER
    name = _names.get(producer_id)
    if name is None:
        name = _names[producer_id] = producer_name(session, producer_id)
    return name


# Waits that only the quota's pace asks for: the job stays due while its wake-up waits.
QUOTA_PACE = frozenset({"rpm", "tpm", "concurrency"})


@dataclass(frozen=True)
class Waiting:
    """The pace had no room: this wake-up was sent again, ``delay_s`` later."""

    delay_s: float


def gate_first_call(runtime: Runtime, job_id: str) -> Admission | Waiting | None:
    """A quota'd job's first call admitted before anything is claimed, so fair shares choose
    among due jobs at the moment a call may go out, and a wake-up the pace has no room for
    costs no write: it comes back later, its job staying due. None: nothing to pace here
    (the claimed job's gate decides: the breaker, waits the pace does not set)."""
    governor = runtime.governor
    with runtime.db.session() as session:
        due = peek_due(session, job_id)
    if due is None:
        return None
    chain = model_chain(governor.config, due.task, due.model, due.fallback_models, due.last_error)
    if not any(governor.is_limited(model) for model in chain):
        return None
    if would_answer(runtime, due, due.image_sha256s):  # no call: no slot needed
        return None
    try:
        return governor.admit(chain, rough_tokens(len(due.image_sha256s)))
    except Deferred as wait:
        if wait.reason not in QUOTA_PACE:
            return None
        delay = wait.delay_s + random.uniform(0, max(0.2, wait.delay_s * 0.2))
        runtime.queue.enqueue_job(job_id, kind=due.task, countdown=delay, priority=due.priority)
        return Waiting(delay)
