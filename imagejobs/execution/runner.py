"""Running one job: claim → check images → quote → send → parse → persist, or retry / fail.

The Celery task only calls :func:`run_job`. Every write that matters is guarded by the job's
lease, so a second delivery of the same message, or a worker that lost its lease, changes nothing.

An attempt's outcome (a Gemini answer is paid for) is never dropped because the database is
briefly unreachable: the write that ends the attempt is tried again, with backoff, extending the
lease between tries, until it is written or the lease turns out to be someone else's.

This module only orchestrates: the retry decision is :mod:`imagejobs.core.retry`, reading an
answer is :mod:`imagejobs.core.outcome`, images are :mod:`imagejobs.execution.images`, and
every statement is in :mod:`imagejobs.store`.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from imagejobs.core.imageinfo import ImageRejected
from imagejobs.core.links import job_links
from imagejobs.core.outcome import Answer, Outcome, Upright, merge, one_image_per_call, outcome_of
from imagejobs.core.parsing import ParseError
from imagejobs.core.prompts import build_prompt
from imagejobs.core.retry import FailWith, RetryPolicy, deadline_passed, decide_retry
from imagejobs.core.times import as_utc
from imagejobs.core.tokens import text_tokens
from imagejobs.execution.accounting import attempt_record, observe_end, record_attempt
from imagejobs.execution.calls import Calls
from imagejobs.execution.failures import JobFailed, LeaseLost
from imagejobs.execution.images import LoadedImage, load_all, send_parts
from imagejobs.execution.lease import Lease
from imagejobs.execution.result_reuse import Reuse, look_up, look_up_in
from imagejobs.execution.scheduler import (
    QUOTA_PACE,
    FairPicker,
    Waiting,
    gate_first_call,
    pick_job,
    producer_of,
)
from imagejobs.gemini.errors import GeminiCallError
from imagejobs.governance.governor import Admission, BudgetExceeded, Deferred
from imagejobs.observability.metrics import observe_lease_takeover
from imagejobs.runtime import Runtime
from imagejobs.store.claims import Claim, claim_in_own_transaction
from imagejobs.store.finishing import finish_attempt
from imagejobs.store.jobs import schedule_retry
from imagejobs.store.models import FINAL_STATUSES, Job, JobImage, utcnow
from imagejobs.store.outbox import add_webhook_event
from imagejobs.store.scheduling import still_waiting

__all__ = ["Ended", "JobFailed", "JobRun", "LeaseLost", "run_job"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ended:
    """How one job message ended: ``status`` is the job's status (or ``skipped``, ``retry``,
    ``park``, ``lease_lost``); ``error`` the code and message of a failure."""

    status: str
    error: tuple[str, str] | None = None
    job_id: str | None = None  # the job the message ran (fair shares may pick another)


def run_job(runtime: Runtime, job_id: str) -> Ended:
    """Process one job message (a wake-up: fair shares may pick another producer's job, see
    :mod:`imagejobs.execution.scheduler`). Returns how it ended (for the task, logs, tests)."""
    governor = runtime.governor
    # A quota'd model's first call is admitted before the claim (no quota: nothing to ask yet).
    gated = governor.enabled and bool(governor.config.quotas)
    admission = gate_first_call(runtime, job_id) if gated else None
    if isinstance(admission, Waiting):
        return Ended("waiting", job_id=job_id)
    chosen, picker = pick_job(runtime, job_id, admission.model if admission else None)
    lease_s = runtime.settings.lease_s
    claim = claim_in_own_transaction(runtime.db, chosen, runtime.owner, lease_s=lease_s)
    if claim is None and chosen != job_id:  # the fair pick went elsewhere: the own job
        chosen = job_id
        claim = claim_in_own_transaction(runtime.db, chosen, runtime.owner, lease_s=lease_s)
    if claim is None:
        log.info("job %s: nothing to do (not found, not due, or held elsewhere)", chosen)
        _give_back(runtime, admission)
        return Ended("skipped", job_id=chosen)
    job = claim.job
    lease = Lease(runtime.db, job.id, runtime.owner, lease_s)
    try:  # the claim is committed: on an outage the job would wait, claimed, for its lease
        follow = lease.until_reachable(
            lambda: after_claim(runtime, claim, job_id), "read what the claim leads to"
        )
    except LeaseLost:  # the outage outlived the lease and another worker took the job
        _give_back(runtime, admission)
        return Ended("lease_lost", job_id=job.id)
    if follow.resend is not None:
        task, priority, wait_s = follow.resend
        runtime.queue.enqueue_job(job_id, kind=task, countdown=wait_s or None, priority=priority)
    if claim.took_over:
        observe_lease_takeover(job.task)
    if follow.started_id is not None:  # sent once committed; a refusal is the sweeper's
        runtime.queue.enqueue_delivery(follow.started_id)
    attempt = JobRun(
        runtime,
        job,
        lease=lease,
        producer=follow.producer,
        reuse=follow.reuse,
        picker=picker,
        admission=admission,
    )
    status = attempt.run(claim.images)
    if attempt.delivery_id is not None:
        runtime.queue.enqueue_delivery(attempt.delivery_id)
    if status in FINAL_STATUSES:
        observe_end(attempt, status)
    return Ended(status, attempt.error if status == "failed" else None, job.id)


def _give_back(runtime: Runtime, admission: Admission | None) -> None:
    """The first call's slot, taken before the claim, when no call will use it."""
    if admission is not None:
        runtime.governor.finished(admission, billed_prompt_tokens=0, outcome="neutral")


@dataclass(frozen=True)
class AfterClaim:
    """What a claim leads to, read (and written) right after it."""

    resend: tuple[str, int, float] | None  # the message's own job, when another job ran
    reuse: Reuse | None  # the result cache's answer, when every image's content is known
    producer: str
    started_id: str | None  # the job.started event's outbox row, when one was written


def after_claim(runtime: Runtime, claim: Claim, message_job_id: str) -> AfterClaim:
    """One session (none of its statements runs when none is needed); safe to run again after
    a dropped connection, the started event being written once."""
    job, rows = claim.job, claim.images
    with runtime.db.session() as session:
        # This message's own job keeps a wake-up of its own when another job took this one.
        resend = still_waiting(session, message_job_id) if job.id != message_job_id else None
        known = [row.sha256 for row, _ in rows if row.sha256]
        # Every image's content is known: the result cache is asked before anything is read.
        reuse = look_up_in(session, runtime, job, known) if len(known) == len(rows) else None
        producer = producer_of(session, job.producer_id)
        started = None
        # Once: an attempt that waited for quota is given back; a worker that died after its
        # claim left the event to whoever takes the job over.
        if job.attempts == 1 or claim.took_over:
            started = add_webhook_event(
                session, job, "job.started", links=job_links(job.id), summary={}, once=True
            )
        return AfterClaim(resend, reuse, producer, started.id if started is not None else None)


class JobRun:
    def __init__(
        self,
        runtime: Runtime,
        job: Job,
        *,
        lease: Lease,
        producer: str = "-",
        reuse: Reuse | None = None,
        picker: FairPicker | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.db = runtime.db
        self.job = job
        self.lease = lease  # held since the claim
        self.calls = Calls(runtime, job, self.lease, admission)
        self.producer = producer
        self.estimated: int | None = None
        self.estimated_images: int | None = None
        self.images: list[LoadedImage] = []
        self.transports: list[tuple[str, str | None]] = []
        self.error: tuple[str, str] | None = None  # the code and message the job failed with
        self.delivery_id: str | None = None  # the outbox row of the final event, once written
        self.reuse = reuse  # the result cache's answer, when the claim could ask already
        self.picker = picker  # the fair share to charge once the job's first call is admitted
        self.cache_key: str | None = None
        self.cached_from: str | None = None

    # Outcomes -------------------------------------------------------------------------------

    def run(self, rows: list[tuple[JobImage, str | None]]) -> str:
        job = self.job
        if deadline_passed(as_utc(job.deadline), utcnow()):
            return self._fail("deadline_exceeded", f"the job's deadline {job.deadline} passed")
        try:
            outcome = self._execute(rows)
        except Deferred as wait:
            keep_due = wait.reason in QUOTA_PACE and self.calls.count == 0
            return self._wait(wait.reason, wait.message, wait.delay_s, keep_due=keep_due)
        except BudgetExceeded as exc:
            if job.on_budget == "wait":
                return self._wait("budget", exc.message, exc.wait_s)
            return self._fail("budget_exceeded", exc.message)
        except LeaseLost:
            return self._end_after_lost_lease()
        except GeminiCallError as exc:
            return self._after_error(
                exc.error_code, exc.message, exc.retry_after_s, retryable=exc.retryable
            )
        except ImageRejected as exc:
            return self._fail(f"image_{exc.code}", str(exc))
        except ParseError as exc:
            return self._fail(f"output_{exc.code}", str(exc))
        except JobFailed as exc:
            return self._fail(exc.code, exc.message)
        except Exception as exc:  # a bug or an outage of ours: retried, then failed
            log.exception("job %s: unexpected error", job.id)
            return self._after_error("internal_error", f"{type(exc).__name__}: {exc}", None)
        finally:
            self.calls.release_unused()
            self.calls.settle()
        return self._succeed(outcome)

    def _succeed(self, outcome: Outcome) -> str:
        if not self._finish("succeeded", outcome=outcome):
            return self._end_after_lost_lease()  # canceled meanwhile, or taken over
        log.info("job %s succeeded", self.job.id)
        return "succeeded"

    def _fail(self, code: str, message: str) -> str:
        done = self._finish("failed", error=(code, message))
        log.warning("job %s failed: %s: %s", self.job.id, code, message)
        if not done:
            return "lease_lost"
        self.error = (code, message)
        return "failed"

    def _end_after_lost_lease(self) -> str:
        """If the lease is still ours, the producer canceled: end as canceled, results dropped."""
        canceled = self._finish("canceled", error=("canceled", "canceled by the producer"))
        return "canceled" if canceled else "lease_lost"

    def _finish(
        self,
        status: str,
        *,
        error: tuple[str, str] | None = None,
        outcome: Outcome | None = None,
    ) -> bool:
        """End the job in one transaction: the guarded status change and its outbox row first,
        then what the attempt learnt (images, usage: tokens spent are recorded whatever the
        end), and the results when it succeeded. False if the guard refused (the lease is not
        ours, or, for success, the producer asked to cancel)."""
        code, message = error if error else (None, None)

        def write() -> bool:
            with self.db.session() as session:
                done = finish_attempt(
                    session,
                    self.job,
                    status,
                    owner=self.runtime.owner,
                    attempt=attempt_record(self),
                    outcome=outcome,
                    unless_canceled=outcome is not None,
                    error_code=code,
                    error_message=message,
                    links=job_links(self.job.id),
                    summary=outcome.summary() if outcome is not None else None,
                    record=self._what_answered(outcome),
                )
                if not done:
                    session.rollback()
                    return False
            self.delivery_id = done.delivery_id
            return True

        return bool(self.lease.written(write))

    def _what_answered(self, outcome: Outcome | None) -> dict[str, str | None]:
        answered = self.calls.answered_model()
        if outcome is None:
            return {"answered_model": answered}
        return {
            "answered_model": answered,
            "cached_from": self.cached_from,
            "cache_key": self.cache_key if self.cached_from is None else None,
        }

    def _wait(self, reason: str, message: str, delay_s: float, *, keep_due: bool = False) -> str:
        """Nothing was sent: back to the queue for ``delay_s``, the attempt given back.

        ``keep_due``: only the quota's pace said not yet, so the job stays due (any wake-up
        admitted sooner may take it, by fair shares) and only this wake-up is sent later."""
        delay = delay_s + random.uniform(0, max(0.2, delay_s * 0.1))

        def write() -> str | None:
            with self.db.session() as session:
                how = schedule_retry(
                    session,
                    self.job.id,
                    self.runtime.owner,
                    delay_s=delay,
                    park_after_s=self.settings.park_after_s,
                    error_code=f"waiting_{reason}",
                    error_message=message,
                    refund_attempt=self.calls.count == 0,
                    keep_due=keep_due,
                )
                if how:
                    record_attempt(session, self)
            return how

        how = self.lease.written(write)
        if how == "retry":
            self.runtime.queue.enqueue_job(
                self.job.id, kind=self.job.task, countdown=delay, priority=self.job.priority
            )
        log.info("job %s: waits %.1f s (%s): %s", self.job.id, delay, reason, message)
        return "waiting" if how else "lease_lost"

    def _after_error(
        self, code: str, message: str, retry_after_s: float | None, *, retryable: bool = True
    ) -> str:
        """Fail, or put the job back in the queue as :func:`decide_retry` says."""
        settings = self.settings
        policy = RetryPolicy(
            settings.max_attempts,
            settings.retry_base_s,
            settings.retry_max_s,
            settings.park_after_s,
        )
        decision = decide_retry(
            attempt=self.job.attempts,
            retryable=retryable,
            message=message,
            retry_after_s=retry_after_s,
            policy=policy,
            deadline=as_utc(self.job.deadline),
            now=utcnow(),
            uniform=random.uniform,
        )
        if isinstance(decision, FailWith):
            return self._fail(code, decision.message)

        def write() -> str | None:
            with self.db.session() as session:
                how = schedule_retry(
                    session,
                    self.job.id,
                    self.runtime.owner,
                    delay_s=decision.delay_s,
                    park_after_s=policy.park_after_s,
                    error_code=code,
                    error_message=message,
                )
                if how:
                    record_attempt(session, self)
            return how

        how = self.lease.written(write)
        if how == "retry":
            self.runtime.queue.enqueue_job(
                self.job.id,
                kind=self.job.task,
                countdown=decision.delay_s,
                priority=self.job.priority,
            )
        log.info(
            "job %s: %s (%s), next attempt in %.1f s", self.job.id, how, code, decision.delay_s
        )
        return how or "lease_lost"

    # The work ------------------------------------------------------------------------------

    def _execute(self, rows: list[tuple[JobImage, str | None]]) -> Outcome:
        job = self.job
        params = job.params or {}
        reuse = self.reuse
        if reuse is not None:  # every image's content was known: the claim asked the cache
            self.cache_key = reuse.cache_key
            if reuse.outcome is not None:
                self.cached_from = reuse.source
                return reuse.outcome
        self.calls.admit_first(len(rows))  # before any image is read: Deferred gives it back
        if self.picker is not None:  # a share is used by a call admitted, not by a claim
            self.picker.claimed(self.producer)
        images = load_all(self.runtime, job, rows)
        spec = build_prompt(
            job.task,
            prompt=params.get("prompt"),
            question=params.get("question"),
            labels=params.get("labels"),
            target=params.get("target"),
            n_images=len(images),
            multi_label=bool(params.get("multi_label")),
        )
        prompt_text = spec.text + (spec.system_instruction or "")
        self.estimated_images = sum(image.tokens for image in images)
        per_image = one_image_per_call(job.task)
        batches = [[image] for image in images] if per_image else [images]
        self.estimated = self.estimated_images + text_tokens(prompt_text) * len(batches)
        self.images = images
        if reuse is None:  # fetched images: their content is known now
            reuse = look_up(self.runtime, job, [image.sha256 for image in images])
            self.cache_key = reuse.cache_key
            if reuse.outcome is not None:
                self.cached_from = reuse.source
                return reuse.outcome
        self.calls.reserve_budget(self.producer, self.estimated, len(batches))
        prompt_bytes = len(prompt_text.encode())
        outcomes = []
        for number, batch in enumerate(batches):
            if number:  # the first call follows the claim at once; later ones renew the lease
                self.lease.keep()
            parts = send_parts(self.runtime, batch, prompt_bytes)  # inline, or uploaded
            self.transports.extend((part.transport, part.file_id) for part in parts)
            tokens = sum(image.tokens for image in batch) + text_tokens(prompt_text)
            reply = self.calls.call([part.image for part in parts], spec, tokens)
            del parts  # one call's images in memory at a time
            for done in batch:
                done.release()
            answer = Answer(reply.text, reply.finish_reason, reply.block_reason)
            first = batch[0]
            image = Upright(first.position, first.info.width, first.info.height)
            outcomes.append(outcome_of(job.task, params, answer, image if per_image else None))
        return merge(outcomes)
