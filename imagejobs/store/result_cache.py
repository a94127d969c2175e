"""The result cache: an earlier succeeded job with the same cache key answers a new one.

The key (:func:`imagejobs.core.cache_key.result_cache_key`) is stored on every job that
succeeds with a call of its own; a job served from the cache points at the job whose results it
copied (``cached_from``) and is not itself a source, so a chain of hits always leads to a job
Gemini answered.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from imagejobs.core.geometry import PixelBox
from imagejobs.core.outcome import DetectionOut, MaskOut, Outcome
from imagejobs.store.models import Detection, Job, JobResult, Mask


def find_cached(session: Session, cache_key: str, *, since: datetime, not_job: str) -> str | None:
    """The newest job that succeeded with ``cache_key`` after ``since`` (not ``not_job``)."""
    return session.scalars(
        select(Job.id)
        .where(
            Job.cache_key == cache_key,
            Job.status == "succeeded",
            Job.cached_from.is_(None),
            Job.finished_at >= since,
            Job.id != not_job,
        )
        .order_by(Job.finished_at.desc())
        .limit(1)
    ).first()


def read_outcome(session: Session, job_id: str) -> Outcome | None:
    """The stored results of ``job_id`` as an :class:`Outcome` (None if it has none)."""
    result = session.get(JobResult, job_id)
    if result is None:
        return None
    detections = [
        DetectionOut(d.image_position, d.label, PixelBox(d.x0, d.y0, d.x1, d.y1), _box_2d(d.box_2d))
        for d in session.scalars(
            select(Detection).where(Detection.job_id == job_id).order_by(Detection.seq)
        )
    ]
    masks = [
        MaskOut(
            m.image_position,
            m.label,
            PixelBox(m.x0, m.y0, m.x1, m.y1),
            _box_2d(m.box_2d),
            m.area,
            m.mask_png,
            m.problem,
        )
        for m in session.scalars(select(Mask).where(Mask.job_id == job_id).order_by(Mask.seq))
    ]
    return Outcome(
        caption=result.caption,
        answer=result.answer,
        labels=result.labels,
        detections=detections,
        masks=masks,
        dropped_boxes=result.dropped_boxes or 0,
        notes=[*(result.notes or []), f"served from the result cache (job {job_id})"],
        raw_texts=[result.raw_text] if result.raw_text else [],
        finish_reasons=(result.finish_reason or "").split(",") if result.finish_reason else [],
    )


def _box_2d(value: list[int] | None) -> tuple[int, int, int, int]:
    a, b, c, d = (int(v) for v in (value or [0, 0, 0, 0]))
    return (a, b, c, d)
