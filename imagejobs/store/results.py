"""Writing a job's results and usage: idempotent, so running a job twice cannot duplicate rows."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from imagejobs.core.outcome import Outcome
from imagejobs.gemini.port import TokenUsage
from imagejobs.store.models import Detection, JobResult, Mask, Usage


def clear_results(session: Session, job_id: str) -> None:
    """Remove any results of an earlier run, so writing them again cannot duplicate rows.

    Usage is not touched: it is written as an upsert, estimate first and billed usage after.
    """
    for model in (Detection, Mask, JobResult):
        session.execute(delete(model).where(model.job_id == job_id))
    session.flush()


def write_outcome(session: Session, job_id: str, outcome: Outcome, *, replace: bool = True) -> None:
    """Write ``outcome`` as the job's results (inside the finishing transaction).

    Results are only ever written in the transaction that ends the job, so a first attempt has
    nothing to replace; later attempts (``replace``) clear first, and unique (job, seq) keys make
    a duplicate impossible either way.
    """
    if replace:
        clear_results(session, job_id)
    session.add(
        JobResult(
            job_id=job_id,
            caption=outcome.caption,
            answer=outcome.answer,
            labels=outcome.labels,
            raw_text="\n\n".join(outcome.raw_texts) or None,
            finish_reason=",".join(sorted(set(outcome.finish_reasons))) or None,
            dropped_boxes=outcome.dropped_boxes,
            notes=outcome.notes,
        )
    )
    for seq, det in enumerate(outcome.detections):
        session.add(
            Detection(
                job_id=job_id,
                seq=seq,
                image_position=det.image_position,
                label=det.label,
                x0=det.box.x0,
                y0=det.box.y0,
                x1=det.box.x1,
                y1=det.box.y1,
                box_2d=list(det.box_2d),
            )
        )
    for seq, mask in enumerate(outcome.masks):
        session.add(
            Mask(
                job_id=job_id,
                seq=seq,
                image_position=mask.image_position,
                label=mask.label,
                x0=mask.box.x0,
                y0=mask.box.y0,
                x1=mask.box.x1,
                y1=mask.box.y1,
                box_2d=list(mask.box_2d),
                area=mask.area,
                mask_png=mask.png,
                problem=mask.problem,
            )
        )


def write_usage(
    session: Session,
    job_id: str,
    *,
    estimated_tokens: int | None,
    estimated_image_tokens: int | None,
    usage: TokenUsage | None,
    calls: int,
    cost_usd: float | None,
    model_version: str | None,
) -> None:
    """Store the quote and, once there is one, the billed usage next to it."""
    row = session.get(Usage, job_id) or Usage(job_id=job_id)
    row.estimated_tokens = estimated_tokens
    row.estimated_image_tokens = estimated_image_tokens
    row.calls = calls
    if usage is not None:
        row.prompt_tokens = usage.prompt
        row.candidates_tokens = usage.candidates
        row.thoughts_tokens = usage.thoughts
        row.total_tokens = usage.total
        row.image_tokens = usage.image
        row.text_tokens = usage.text
    row.cost_usd = cost_usd
    row.model_version = model_version
    session.add(row)
