"""Taking a job: store the images, commit the job row, then put its id on the queue.

Every entry point (HTTP API, Python client, CLI, Celery ``send_task`` interop) comes through here,
so the rule "Postgres first, then the broker" holds everywhere.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from imagejobs.core.jobspec import ImageCountRefused, JobSpec
from imagejobs.core.model_options import ModelDefaults, ModelRefused, apply_model_choice
from imagejobs.runtime import Runtime
from imagejobs.store.job_lookup import job_by_idempotency_key
from imagejobs.store.jobs import NewImage, create_job, mark_not_enqueued


@dataclass(frozen=True)
class ImageInput:
    """An image as a producer gives it: bytes, a URL for the worker to fetch, or a stored blob."""

    data: bytes | None = None
    url: str | None = None
    sha256: str | None = None
    filename: str | None = None

    def __post_init__(self) -> None:
        given = sum(x is not None for x in (self.data, self.url, self.sha256))
        if given != 1:
            raise ValueError("an image needs exactly one of data, url or sha256")


class SubmissionRefused(Exception):
    """The job cannot be accepted as given; the message names what was wrong."""


class IdempotencyConflict(SubmissionRefused):
    """The idempotency key was used before with a different request."""


class ImagesRefused(SubmissionRefused):
    """The images cannot make this job: none, too many, an empty one, an unknown blob."""


class ModelNotUsable(SubmissionRefused):
    """The model, or an option for it, cannot be used (specs built in code skip intake)."""


@dataclass(frozen=True)
class Submitted:
    job_id: str
    created: bool  # False when an idempotent retry returned the existing job


def request_fingerprint(spec: JobSpec, images: list[ImageInput]) -> str:
    """A hash of what was asked, to tell an idempotent retry from a different request."""
    parts: list[Any] = [spec.model_dump(mode="json")]
    for image in images:
        if image.data is not None:
            parts.append(hashlib.sha256(image.data).hexdigest())
        else:
            parts.append(image.url or image.sha256)
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def submit_job(
    runtime: Runtime,
    spec: JobSpec,
    images: list[ImageInput],
    *,
    producer_id: str | None = None,
    idempotency_key: str | None = None,
    enqueue: bool = True,
) -> Submitted:
    """Store, commit, enqueue. Raises :class:`SubmissionRefused` naming what was wrong.

    If the broker is down the job is still accepted: it stays queued and the workers' sweeper
    sends it once the broker is back. ``enqueue=False`` leaves the sending to the sweeper.
    """
    try:
        spec.check_image_count(len(images))
    except ImageCountRefused as exc:
        raise ImagesRefused(str(exc).removeprefix("images: ")) from None
    try:  # intake chose already (then this changes nothing); the CLI and tests build specs
        defaults = ModelDefaults.of(runtime.settings)
        spec = apply_model_choice(spec, defaults)
    except ModelRefused as exc:
        raise ModelNotUsable(str(exc)) from None
    fingerprint = request_fingerprint(spec, images) if idempotency_key else None
    if idempotency_key:
        existing = _existing(runtime, producer_id, idempotency_key, fingerprint)
        if existing is not None:
            return existing
    blobs = runtime.blobs
    new_images = []
    for image in images:
        if image.data is not None:
            if not image.data:
                raise ImagesRefused(f"image {image.filename or ''} is empty".replace("  ", " "))
            sha = blobs.put(image.data)
            new_images.append(NewImage(sha, len(image.data), None, image.filename))
        elif image.sha256 is not None:
            if not blobs.exists(image.sha256):
                raise ImagesRefused(f"no stored image with sha256 {image.sha256}")
            new_images.append(NewImage(image.sha256, None, None, image.filename))
        else:
            new_images.append(NewImage(None, None, image.url, image.filename))
    try:
        with runtime.db.session() as session:
            job = create_job(
                session,
                spec,
                new_images,
                default_model=runtime.settings.model,
                producer_id=producer_id,
                idempotency_key=idempotency_key,
                request_hash=fingerprint,
                will_enqueue=enqueue,
            )
            job_id = job.id
    except IntegrityError:
        if idempotency_key:  # a concurrent retry with the same key won the race
            existing = _existing(runtime, producer_id, idempotency_key, fingerprint)
            if existing is not None:
                return existing
        raise
    if enqueue and not runtime.queue.enqueue_job(job_id, kind=spec.task, priority=spec.priority):
        with runtime.db.session() as session:
            mark_not_enqueued(session, job_id)
    return Submitted(job_id, True)


def _existing(
    runtime: Runtime, producer_id: str | None, key: str, fingerprint: str | None
) -> Submitted | None:
    with runtime.db.session() as session:
        job = job_by_idempotency_key(session, producer_id, key)
        if job is None:
            return None
        if job.request_hash != fingerprint:
            raise IdempotencyConflict(
                f"Idempotency-Key {key!r} was already used for a different request (job {job.id})"
            )
        return Submitted(job.id, False)
