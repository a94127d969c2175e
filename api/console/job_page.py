"""What the job page shows, read in one session: the job view, the marks table, deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from api.console.auth import ConsoleError, Viewer
from imagejobs.core.jobspec import FINAL_STATUSES
from imagejobs.results.view import render_job
from imagejobs.store.console_queries import producer_name
from imagejobs.store.job_lookup import find_job
from imagejobs.store.models import Job, WebhookDelivery
from imagejobs.store.outbox import delivery_attempts, get_delivery, job_deliveries

ID_CHARS = frozenset("0123456789abcdef")


def _looks_like_id(value: str) -> bool:
    return 0 < len(value) <= 32 and not set(value) - ID_CHARS


def visible_job(session: Session, viewer: Viewer, job_id: str) -> Job:
    """The job if the viewer may see it; another producer's job is as missing as an unknown one."""
    job = find_job(session, job_id) if _looks_like_id(job_id) else None
    if job is None or not viewer.can_see(job.producer_id):
        raise ConsoleError(404, f"no job {job_id!r}")
    return job


def visible_delivery(session: Session, viewer: Viewer, delivery_id: str) -> WebhookDelivery:
    row = get_delivery(session, delivery_id) if _looks_like_id(delivery_id) else None
    if row is None or not viewer.can_see(row.producer_id):
        raise ConsoleError(404, f"no webhook delivery {delivery_id!r}")
    return row


@dataclass(frozen=True)
class MarkRow:
    number: int  # as the overlay's tags number them
    image: int
    label: str
    box: list[int]
    area: int | None
    problem: str | None

    @property
    def size(self) -> str:
        x0, y0, x1, y1 = self.box
        return f"{x1 - x0}×{y1 - y0}"


def mark_rows(view: dict[str, Any]) -> tuple[str, list[MarkRow]]:
    """``("masks", rows)`` for a job with masks (they carry the boxes), else its detections."""
    kind = "masks" if view["masks"] else "detections"
    rows = [
        MarkRow(
            number=index + 1,
            image=item["image"],
            label=item["label"],
            box=item["box"],
            area=item.get("area"),
            problem=item.get("problem"),
        )
        for index, item in enumerate(view[kind])
    ]
    return kind, rows


def _deliveries(session: Session, job_id: str) -> list[dict[str, Any]]:
    return [
        {"row": row, "attempts": list(delivery_attempts(session, row.id))}
        for row in job_deliveries(session, job_id)
    ]


def job_context(session: Session, viewer: Viewer, job_id: str) -> dict[str, Any]:
    job = visible_job(session, viewer, job_id)
    view = render_job(session, job, include_masks=False)
    kind, rows = mark_rows(view)
    deliveries = _deliveries(session, job.id)
    pending = any(item["row"].status == "pending" for item in deliveries)
    return {
        "job": job,
        "view": view,
        "mark_kind": kind,
        "marks": rows,
        "mark_problems": any(row.problem for row in rows),
        "deliveries": deliveries,
        "producer": producer_name(session, job.producer_id),
        "live": job.status not in FINAL_STATUSES or pending,
        "image_version": f"{job.status}-{job.attempts}",
    }
