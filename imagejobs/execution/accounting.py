"""What an attempt leaves behind: each image's facts and how it was sent, the token usage
and cost (written in the transaction that ends the attempt), and the job's end in the metrics."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from imagejobs.core.times import as_utc, utcnow
from imagejobs.execution.calls import Calls
from imagejobs.execution.images import LoadedImage
from imagejobs.observability.metrics import observe_job_end
from imagejobs.store.finishing import AttemptRecord, write_attempt
from imagejobs.store.models import Job
from imagejobs.store.results import UsageRecord


class Attempt(Protocol):
    """What is read of an attempt (the runner's ``JobRun``)."""

    job: Job
    calls: Calls
    images: list[LoadedImage]
    transports: list[tuple[str, str | None]]
    estimated: int | None
    estimated_images: int | None
    cached_from: str | None
    error: tuple[str, str] | None


def observe_end(run: Attempt, status: str) -> None:
    """Count the ended job in the metrics (once, after its final write)."""
    job, calls, usage = run.job, run.calls, run.calls.usage
    started = as_utc(job.started_at)
    output = None if usage.candidates is None else usage.candidates + (usage.thoughts or 0)
    observe_job_end(
        task=job.task,
        model=calls.answered_model() or job.model,
        producer=job.producer_id,
        status=status,
        error_code=run.error[0] if run.error else None,
        duration_s=(utcnow() - started).total_seconds() if started else None,
        queue_wait_s=(
            (started - as_utc(job.created_at)).total_seconds()
            if started and job.attempts == 1 and job.created_at
            else None
        ),
        estimated_tokens=run.estimated,
        billed_prompt_tokens=usage.prompt,
        billed_output_tokens=output,
        cost_usd=calls.cost,
    )


def attempt_record(run: Attempt) -> AttemptRecord:
    """Each image's facts (content seen for the first time) and how it was sent, and the usage."""
    facts, sent = [], []
    for index, image in enumerate(run.images):
        known = image.facts()
        if known is not None:  # first time this content is seen
            facts.append((image.sha256, known))
        transport, file_id = run.transports[index] if index < len(run.transports) else (None, None)
        sent.append(image.as_sent(transport, file_id))
    calls = run.calls
    usage = UsageRecord(
        estimated_tokens=run.estimated,
        estimated_image_tokens=run.estimated_images,
        usage=calls.usage if calls.count else None,
        calls=calls.count,
        cost_usd=calls.cost if calls.count else (0.0 if run.cached_from else None),
        model_version=calls.model_version,
    )
    return AttemptRecord(facts, sent, usage)


def record_attempt(session: Session, run: Attempt) -> None:
    """Write each image's facts and how it was sent, and the token usage."""
    write_attempt(session, run.job.id, attempt_record(run))
