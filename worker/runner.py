"""Running one job: claim → check images → quote → send → parse → persist, or retry / fail.

The Celery task only calls :func:`run_job`. Every write that matters is guarded by the job's
lease, so a second delivery of the same message, or a worker that lost its lease, changes nothing.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from imagejobs.core.imageinfo import (
    ImageInfo,
    ImageRejected,
    PreparedImage,
    inspect_image,
    prepare_for_send,
)
from imagejobs.core.jobspec import SPATIAL_TASKS
from imagejobs.core.parsing import ParseError
from imagejobs.core.pricing import cost_usd
from imagejobs.core.prompts import PromptSpec, build_prompt
from imagejobs.core.tokens import image_tokens, text_tokens
from imagejobs.core.transport import PartSize, plan_transport
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
from imagejobs.store.blobs import sha256_hex
from imagejobs.store.db import session_scope
from imagejobs.store.jobs import (
    add_webhook_event,
    claim_job,
    extend_lease,
    finish_job,
    schedule_retry,
    still_owned,
)
from imagejobs.store.models import Image, Job, JobImage, utcnow
from worker.deliveries import enqueue_pending
from worker.queue import enqueue_job
from worker.runtime import Runtime, get_runtime
from worker.uploads import ensure_uploaded

log = logging.getLogger(__name__)


class JobFailed(Exception):
    """A permanent failure: the job ends as failed with this code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LeaseLost(Exception):
    """Another worker owns the job now, or it was canceled: stop without writing."""


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


def run_job(job_id: str, runtime: Runtime | None = None) -> str:
    """Process one job message. Returns what happened (for logs and tests)."""
    runtime = runtime or get_runtime()
    settings = runtime.settings
    with session_scope(settings.effective_database_url) as session:
        job = claim_job(session, job_id, runtime.owner, lease_s=settings.lease_s)
        if job is None:
            log.info("job %s: nothing to do (not found, not due, or held elsewhere)", job_id)
            return "skipped"
        rows = list(
            session.execute(
                select(JobImage, Image.mime)
                .outerjoin(Image, Image.sha256 == JobImage.sha256)
                .where(JobImage.job_id == job.id)
                .order_by(JobImage.position)
            ).tuples()
        )
        started_event = job.attempts == 1 and add_webhook_event(
            session, job, "job.started", links=job_links(job.id), summary={}
        )
    if started_event:
        enqueue_pending(settings, job.id)
    status = JobRun(runtime, job).run(rows)
    if job.webhook_url and status in ("succeeded", "failed", "canceled"):
        enqueue_pending(settings, job.id)
    return status


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they are UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def job_links(job_id: str) -> dict[str, str]:
    return {"self": f"/v1/jobs/{job_id}", "overlay": f"/v1/jobs/{job_id}/overlay.png"}


class JobRun:
    def __init__(self, runtime: Runtime, job: Job) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.db_url = runtime.settings.effective_database_url
        self.job = job
        self.usage = TokenUsage()
        self.calls = 0
        self.estimated: int | None = None
        self.estimated_images: int | None = None
        self.model_version: str | None = None
        self.images: list[LoadedImage] = []
        self.transports: list[tuple[str, str | None]] = []

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
        with session_scope(self.db_url) as session:
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
                return self._end_after_lost_lease()
            self._record(session)
            write_outcome(session, self.job.id, outcome, replace=self.job.attempts > 1)
        log.info("job %s succeeded", self.job.id)
        return "succeeded"

    def _fail(self, code: str, message: str) -> str:
        with session_scope(self.db_url) as session:
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
        log.warning("job %s failed: %s: %s", self.job.id, code, message)
        return "failed" if done else "lease_lost"

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
        with session_scope(self.db_url) as session:
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
        if how == "retry":
            enqueue_job(self.job.id, countdown=delay, priority=self.job.priority)
        log.info("job %s: %s (%s), next attempt in %.1f s", self.job.id, how, code, delay)
        return how or "lease_lost"

    def _end_after_lost_lease(self) -> str:
        """If the lease is still ours, the producer canceled: end as canceled, results dropped."""
        with session_scope(self.db_url) as session:
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
        return "canceled" if canceled else "lease_lost"

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
        with session_scope(self.db_url) as session:
            ok = still_owned(session, self.job.id, self.runtime.owner) and extend_lease(
                session, self.job.id, self.runtime.owner, lease_s=self.settings.lease_s
            )
        if not ok:
            raise LeaseLost()

    def _load_one(self, row: JobImage, known_mime: str | None) -> LoadedImage:
        label = f"image {row.position + 1}" + (f" ({row.filename})" if row.filename else "")
        sha = row.sha256
        if sha is None:
            sha = self._fetch(row)
        data = self.runtime.blobs.get(sha)
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
        with session_scope(self.db_url) as session:
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
