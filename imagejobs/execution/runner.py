"""Running one job: claim → check images → quote → send → parse → persist, or retry / fail.

The Celery task only calls :func:`run_job`. Every write that matters is guarded by the job's
lease, so a second delivery of the same message, or a worker that lost its lease, changes nothing.

An attempt's outcome (a Gemini answer is paid for) is never dropped because the database is
briefly unreachable: the write that ends the attempt is tried again, with backoff, extending the
lease between tries, until it is written or the lease turns out to be someone else's.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from imagejobs.core.imageinfo import (
    ImageInfo,
    ImageRejected,
    PreparedImage,
    inspect_image,
    prepare_for_send,
)
from imagejobs.core.jobspec import SPATIAL_TASKS
from imagejobs.core.links import job_links
from imagejobs.core.parsing import ParseError
from imagejobs.core.pricing import cost_usd
from imagejobs.core.prompts import PromptSpec, build_prompt
from imagejobs.core.tokens import image_tokens, text_tokens
from imagejobs.core.transport import PartSize, plan_transport
from imagejobs.execution.deliveries import enqueue_pending
from imagejobs.execution.uploads import ensure_uploaded
from imagejobs.gemini.errors import GeminiCallError
from imagejobs.gemini.port import (
    FileImage,
    GenerateReply,
    GenerateRequest,
    ImagePart,
    InlineImage,
    TokenUsage,
)
from imagejobs.net.fetch import FetchError, GuardedFetcher
from imagejobs.net.guard import BlockedAddress, InvalidURL
from imagejobs.results.build import (
    Outcome,
    labels_outcome,
    merge,
    spatial_outcome,
    text_outcome,
)
from imagejobs.results.persist import write_outcome, write_usage
from imagejobs.runtime import Runtime
from imagejobs.store.blobs import BlobNotFound, sha256_hex
from imagejobs.store.jobs import (
    add_webhook_event,
    claim_job,
    extend_lease,
    finish_job,
    schedule_retry,
    still_owned,
)
from imagejobs.store.models import Image, Job, JobImage, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

# The database is unreachable (a restart, a failover, too many clients): worth trying again.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
WRITE_RETRY_FIRST_S = 0.5  # the first wait before writing again; doubles up to the next
WRITE_RETRY_MAX_S = 15.0


class JobFailed(Exception):
    """A permanent failure: the job ends as failed with this code and message.

    Its text is ``"<code>: <message>"`` (what Flower shows for a failed task).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class LeaseLost(Exception):
    """Another worker owns the job now, or it was canceled: stop without writing."""


@dataclass(frozen=True)
class Ended:
    """How one job message ended: ``status`` is the job's status (or ``skipped``, ``retry``,
    ``park``, ``lease_lost``); ``error`` the code and message of a failure."""

    status: str
    error: tuple[str, str] | None = None


@dataclass
class LoadedImage:
    position: int
    sha256: str
    label: str  # how error messages name the image
    info: ImageInfo
    sent: PreparedImage
    sent_sha256: str
    tokens: int
    known_mime: str | None  # what the images table already knew


def run_job(runtime: Runtime, job_id: str) -> Ended:
    """Process one job message. Returns how it ended (for the task, logs and tests)."""
    settings = runtime.settings
    with runtime.db.session() as session:
        job = claim_job(session, job_id, runtime.owner, lease_s=settings.lease_s)
        if job is None:
            log.info("job %s: nothing to do (not found, not due, or held elsewhere)", job_id)
            return Ended("skipped")
        rows: list[tuple[JobImage, str | None]] = [
            (image, mime)
            for image, mime in session.execute(
                select(JobImage, Image.mime)
                .outerjoin(Image, Image.sha256 == JobImage.sha256)
                .where(JobImage.job_id == job.id)
                .order_by(JobImage.position)
            )
        ]
        started_event = job.attempts == 1 and add_webhook_event(
            session, job, "job.started", links=job_links(job.id), summary={}
        )
    if started_event:
        _send_webhooks_now(runtime, job.id)
    attempt = JobRun(runtime, job)
    status = attempt.run(rows)
    if job.webhook_url and status in ("succeeded", "failed", "canceled"):
        _send_webhooks_now(runtime, job.id)
    return Ended(status, attempt.error if status == "failed" else None)


def _send_webhooks_now(runtime: Runtime, job_id: str) -> None:
    """Send the job's new webhook deliveries now; if the database cannot say which, the sweeper
    sends them (they are due in the outbox)."""
    try:
        enqueue_pending(runtime, job_id)
    except DATABASE_UNAVAILABLE as exc:
        log.warning("job %s: webhooks left to the sweeper (database unreachable: %s)", job_id, exc)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class JobRun:
    def __init__(self, runtime: Runtime, job: Job) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.db = runtime.db
        self.job = job
        self.usage = TokenUsage()
        self.calls = 0
        self.estimated: int | None = None
        self.estimated_images: int | None = None
        self.model_version: str | None = None
        self.images: list[LoadedImage] = []
        self.transports: list[tuple[str, str | None]] = []
        self.error: tuple[str, str] | None = None  # the code and message the job failed with

    # Outcomes -------------------------------------------------------------------------------

    def run(self, rows: list[tuple[JobImage, str | None]]) -> str:
        job = self.job
        if job.deadline is not None and utcnow() > _aware(job.deadline):
            return self._fail("deadline_exceeded", f"the job's deadline {job.deadline} passed")
        try:
            outcome = self._execute(rows)
        except LeaseLost:
            return self._end_after_lost_lease()
        except GeminiCallError as exc:
            if exc.retryable:
                return self._retry(exc.error_code, exc.message, exc.retry_after_s)
            return self._fail(exc.error_code, exc.message)
        except ImageRejected as exc:
            return self._fail(f"image_{exc.code}", str(exc))
        except ParseError as exc:
            return self._fail(f"output_{exc.code}", str(exc))
        except JobFailed as exc:
            return self._fail(exc.code, exc.message)
        except Exception as exc:  # a bug or an outage of ours: retried, then failed
            log.exception("job %s: unexpected error", job.id)
            return self._retry("internal_error", f"{type(exc).__name__}: {exc}", None)
        return self._succeed(outcome)

    def _succeed(self, outcome: Outcome) -> str:
        """One transaction: the guarded status change first, then everything the job produced."""

        def write() -> bool:
            with self.db.session() as session:
                done = finish_job(
                    session,
                    self.job,
                    "succeeded",
                    owner=self.runtime.owner,
                    unless_canceled=True,
                    links=self._links(),
                    summary=outcome.summary(),
                )
                if not done:  # canceled meanwhile, or another worker took over: write nothing
                    session.rollback()
                    return False
                self._record(session)
                write_outcome(session, self.job.id, outcome, replace=self.job.attempts > 1)
            return True

        if not self._written(write):
            return self._end_after_lost_lease()
        log.info("job %s succeeded", self.job.id)
        return "succeeded"

    def _fail(self, code: str, message: str) -> str:
        def write() -> bool:
            with self.db.session() as session:
                done = finish_job(
                    session,
                    self.job,
                    "failed",
                    owner=self.runtime.owner,
                    error_code=code,
                    error_message=message,
                    links=self._links(),
                )
                if done:
                    self._record(session)
            return done

        done = self._written(write)
        log.warning("job %s failed: %s: %s", self.job.id, code, message)
        if not done:
            return "lease_lost"
        self.error = (code, message)
        return "failed"

    def _retry(self, code: str, message: str, retry_after_s: float | None) -> str:
        settings = self.settings
        if self.job.attempts >= settings.max_attempts:
            return self._fail(
                code, f"gave up after {self.job.attempts} attempts; last error: {message}"
            )
        backoff = min(settings.retry_max_s, settings.retry_base_s * 2 ** (self.job.attempts - 1))
        delay = backoff * random.uniform(0.5, 1.5)
        if retry_after_s is not None:  # Gemini's RetryInfo / Retry-After wins, plus a little jitter
            delay = retry_after_s + random.uniform(0, min(1.0, retry_after_s * 0.1))
        deadline = self.job.deadline
        if deadline is not None and utcnow() + timedelta(seconds=delay) > _aware(deadline):
            return self._fail(
                code, f"{message} (no retry: the next attempt would miss the job's deadline)"
            )

        def write() -> str | None:
            with self.db.session() as session:
                how = schedule_retry(
                    session,
                    self.job.id,
                    self.runtime.owner,
                    delay_s=delay,
                    park_after_s=settings.park_after_s,
                    error_code=code,
                    error_message=message,
                )
                if how:
                    self._record(session)
            return how

        how = self._written(write)
        if how == "retry":
            self.runtime.queue.enqueue_job(
                self.job.id, kind=self.job.task, countdown=delay, priority=self.job.priority
            )
        log.info("job %s: %s (%s), next attempt in %.1f s", self.job.id, how, code, delay)
        return how or "lease_lost"

    def _end_after_lost_lease(self) -> str:
        """If the lease is still ours, the producer canceled: end as canceled, results dropped."""

        def write() -> bool:
            with self.db.session() as session:
                canceled = finish_job(
                    session,
                    self.job,
                    "canceled",
                    owner=self.runtime.owner,
                    error_code="canceled",
                    error_message="canceled by the producer",
                    links=self._links(),
                )
                if canceled:  # tokens already spent are still recorded; results are not
                    self._record(session)
            return canceled

        return "canceled" if self._written(write) else "lease_lost"

    def _written(self, write: Callable[[], T]) -> T | None:
        """``write`` (one short transaction) and its result; None if the lease was lost while
        the database was unreachable."""
        try:
            return self._until_reachable(write, "write the outcome")
        except LeaseLost:
            return None

    def _until_reachable(self, action: Callable[[], T], what: str) -> T:
        """``action`` (one short transaction), tried again while the database is unreachable.

        Between tries the lease is extended (that too once the database answers), so no other
        worker starts the job over while its outcome waits here. Raises :class:`LeaseLost` once
        the lease is found to be someone else's (it expired during the outage and was taken).
        """
        wait = WRITE_RETRY_FIRST_S
        while True:
            try:
                return action()
            except DATABASE_UNAVAILABLE as exc:
                log.warning(
                    "job %s: could not %s, the database is unreachable (%s); trying again in "
                    "%.1f s",
                    self.job.id,
                    what,
                    type(exc).__name__,
                    wait,
                )
            time.sleep(wait * random.uniform(0.8, 1.2))
            wait = min(WRITE_RETRY_MAX_S, wait * 2)
            try:
                with self.db.session() as session:
                    held = extend_lease(
                        session, self.job.id, self.runtime.owner, lease_s=self.settings.lease_s
                    )
            except DATABASE_UNAVAILABLE:
                continue  # still unreachable: the lease stays as it was, try again
            if not held:
                log.warning("job %s: lease lost while the database was unreachable", self.job.id)
                raise LeaseLost()

    def _links(self) -> dict[str, str]:
        return job_links(self.job.id)

    def _record(self, session: Session) -> None:
        """Write what this attempt learnt: each image's facts and transport, and token usage."""
        self._record_images(session)
        self._write_usage(session)

    def _write_usage(self, session: Session) -> None:
        prices = self.settings.prices
        cost = None
        if self.usage.prompt is not None:
            output = (self.usage.candidates or 0) + (self.usage.thoughts or 0)
            cost = cost_usd(self.job.model, self.usage.prompt, output, prices)
        write_usage(
            session,
            self.job.id,
            estimated_tokens=self.estimated,
            estimated_image_tokens=self.estimated_images,
            usage=self.usage if self.calls else None,
            calls=self.calls,
            cost_usd=cost,
            model_version=self.model_version,
        )

    # The work ------------------------------------------------------------------------------

    def _execute(self, rows: list[tuple[JobImage, str | None]]) -> Outcome:
        job = self.job
        params = job.params or {}
        images = [self._load_one(row, mime) for row, mime in rows]
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
        batches = [[image] for image in images] if job.task in SPATIAL_TASKS else [images]
        self.estimated = self.estimated_images + text_tokens(prompt_text) * len(batches)
        sends = [self._transport(batch, spec) for batch in batches]  # uploads happen here
        self.images = images
        self.transports = [(t, file_id) for parts in sends for _, t, file_id in parts]

        outcomes = []
        for number, (batch, parts) in enumerate(zip(batches, sends, strict=True)):
            if number:  # the first call follows the claim at once; later ones renew the lease
                self._keep_lease()
            reply = self._call([part for part, _, _ in parts], spec)
            outcomes.append(self._outcome(batch, reply, spec))
        return merge(outcomes)

    def _record_images(self, session: Session) -> None:
        """What each image is and how it was sent (written with the attempt's end)."""
        for index, image in enumerate(self.images):
            if image.known_mime is None:  # first time this content is seen
                session.execute(
                    update(Image)
                    .where(Image.sha256 == image.sha256)
                    .values(
                        mime=image.info.mime,
                        width=image.info.width,
                        height=image.info.height,
                        orientation=image.info.orientation,
                        size_bytes=image.info.size_bytes,
                    )
                )
            transport, file_id = (
                self.transports[index] if index < len(self.transports) else (None, None)
            )
            session.execute(
                update(JobImage)
                .where(JobImage.job_id == self.job.id, JobImage.position == image.position)
                .values(
                    sent_width=image.sent.width,
                    sent_height=image.sent.height,
                    sent_bytes=len(image.sent.data),
                    tokens_estimated=image.tokens,
                    transport=transport,
                    uploaded_file_id=file_id,
                )
            )

    def _keep_lease(self) -> None:
        def extend() -> bool:
            with self.db.session() as session:
                return still_owned(session, self.job.id, self.runtime.owner) and extend_lease(
                    session, self.job.id, self.runtime.owner, lease_s=self.settings.lease_s
                )

        if not self._until_reachable(extend, "extend the lease"):
            raise LeaseLost()

    def _load_one(self, row: JobImage, known_mime: str | None) -> LoadedImage:
        label = f"image {row.position + 1}" + (f" ({row.filename})" if row.filename else "")
        sha = row.sha256
        if sha is None:
            sha = self._fetch(row)
        try:
            data = self.runtime.blobs.get(sha)
        except BlobNotFound:
            raise JobFailed(
                "image_blob_missing",
                f"{label}: its stored bytes (sha256 {sha}) are missing from the blob store; "
                "submit the image again",
            ) from None
        settings = self.settings
        try:
            info = inspect_image(
                data, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels
            )
            sent = prepare_for_send(data, info, longest_side=settings.downscale_longest_side)
        except ImageRejected as exc:
            raise ImageRejected(exc.code, f"{label}: {exc}") from None
        sent_sha = sha if sent.data is data else sha256_hex(sent.data)
        tokens = image_tokens(
            self.job.model,
            sent.width,
            sent.height,
            (self.job.options or {}).get("media_resolution"),
        )
        return LoadedImage(row.position, sha, label, info, sent, sent_sha, tokens, known_mime)

    def _fetch(self, row: JobImage) -> str:
        """Download an image URL through the address guard and store it like an upload."""
        fetcher = GuardedFetcher.from_settings(self.settings)
        assert row.source_url is not None
        try:
            fetched = fetcher.get(row.source_url)
        except (BlockedAddress, InvalidURL) as exc:
            raise JobFailed("image_url_refused", f"image {row.position + 1}: {exc}") from None
        except FetchError as exc:
            raise JobFailed("image_fetch_failed", f"image {row.position + 1}: {exc}") from None
        sha = self.runtime.blobs.put(fetched.content)
        with self.db.session() as session:
            if session.get(Image, sha) is None:
                session.add(Image(sha256=sha, size_bytes=len(fetched.content)))
                session.flush()
            session.execute(
                update(JobImage)
                .where(JobImage.job_id == self.job.id, JobImage.position == row.position)
                .values(sha256=sha)
            )
        return sha

    def _call(self, parts: list[ImagePart], spec: PromptSpec) -> GenerateReply:
        options = self.job.options or {}
        thinking = options.get("thinking_budget", spec.thinking_budget)
        request = GenerateRequest(
            model=self.job.model,
            images=parts,
            text=spec.text,
            system_instruction=spec.system_instruction,
            response_mime_type=spec.response_mime_type,
            response_schema=spec.response_schema,
            thinking_budget=thinking,
            temperature=options.get("temperature"),
            max_output_tokens=options.get("max_output_tokens"),
            media_resolution=options.get("media_resolution"),
        )
        reply = self.runtime.gemini.generate(request)
        self.calls += 1
        self.usage = self.usage + reply.usage
        self.model_version = reply.model_version or self.model_version
        return reply

    def _transport(
        self, batch: list[LoadedImage], spec: PromptSpec
    ) -> list[tuple[ImagePart, str, str | None]]:
        """Inline or Files API for each image of one call, uploading (or reusing) as needed."""
        text_bytes = len((spec.text + (spec.system_instruction or "")).encode())
        plan = plan_transport(
            [PartSize(image.sent_sha256, len(image.sent.data)) for image in batch],
            text_bytes,
            self.settings.inline_limit_bytes,
        )
        parts: list[tuple[ImagePart, str, str | None]] = []
        for image in batch:
            if plan[image.sent_sha256] == "inline":
                parts.append((InlineImage(image.sent.data, image.sent.mime), "inline", None))
                continue
            uploaded = ensure_uploaded(
                self.runtime,
                image.sent_sha256,
                image.sent.data,
                image.sent.mime,
                display_name=f"imagejobs-{image.sent_sha256[:16]}",
            )
            parts.append((FileImage(uploaded.uri, uploaded.mime), "file", uploaded.id))
        return parts

    def _outcome(self, batch: list[LoadedImage], reply: GenerateReply, spec: PromptSpec) -> Outcome:
        if reply.block_reason:
            raise ParseError("blocked", f"Gemini blocked the prompt ({reply.block_reason})")
        task = self.job.task
        params = self.job.params or {}
        if task in SPATIAL_TASKS:
            image = batch[0]
            outcome = spatial_outcome(
                task,
                reply.text,
                reply.finish_reason,
                image_position=image.position,
                width=image.info.width,
                height=image.info.height,
            )
        elif task == "classify":
            outcome = labels_outcome(
                reply.text,
                reply.finish_reason,
                list(params.get("labels") or []),
                bool(params.get("multi_label")),
            )
        else:
            outcome = text_outcome(task, reply.text, reply.finish_reason)
        outcome.raw_texts.append(reply.text or "")
        if reply.finish_reason:
            outcome.finish_reasons.append(reply.finish_reason)
        return outcome
