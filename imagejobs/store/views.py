"""What a job's views read: its images, results, usage, boxes and masks (the API resource, the
CLI's ``show``) and one image's boxes and masks (the overlay PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from imagejobs.store.models import Detection, Image, Job, JobImage, JobResult, Mask, Usage


@dataclass(frozen=True)
class JobRows:
    """Everything stored about one job, for shaping into its view."""

    images: Sequence[tuple[JobImage, Image | None]]  # in position order; None: not fetched yet
    result: JobResult | None
    usage: Usage | None
    detections: Sequence[Detection]
    masks: Sequence[Mask]


def job_rows(session: Session, job: Job) -> JobRows:
    images = session.execute(
        select(JobImage, Image)
        .outerjoin(Image, Image.sha256 == JobImage.sha256)
        .where(JobImage.job_id == job.id)
        .order_by(JobImage.position)
    ).all()
    return JobRows(
        images=[(job_image, image) for job_image, image in images],
        result=session.get(JobResult, job.id),
        usage=session.get(Usage, job.id),
        detections=session.scalars(
            select(Detection).where(Detection.job_id == job.id).order_by(Detection.seq)
        ).all(),
        masks=session.scalars(select(Mask).where(Mask.job_id == job.id).order_by(Mask.seq)).all(),
    )


def image_marks(
    session: Session, job_id: str, position: int
) -> tuple[str, Sequence[Detection], Sequence[Mask]] | None:
    """A job's stored image (its sha256) with the boxes and masks found on it; None when the job
    has no image at ``position`` or that image was never stored."""
    row = session.get(JobImage, (job_id, position))
    if row is None or row.sha256 is None:
        return None
    detections = session.scalars(
        select(Detection)
        .where(Detection.job_id == job_id, Detection.image_position == position)
        .order_by(Detection.seq)
    ).all()
    masks = session.scalars(
        select(Mask)
        .where(Mask.job_id == job_id, Mask.image_position == position)
        .order_by(Mask.seq)
    ).all()
    return row.sha256, detections, masks
