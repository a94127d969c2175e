"""A job's image rows and the content table: what the worker reads before an attempt and writes
with its end (each image's facts, how it was sent), and a fetched URL's bytes recorded."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from imagejobs.store.models import Image, JobImage, utcnow


@dataclass(frozen=True)
class ImageFacts:
    """What the content is (written the first time the content is seen)."""

    mime: str
    width: int
    height: int
    orientation: int
    size_bytes: int


@dataclass(frozen=True)
class SentImage:
    """How one image of a job went to Gemini in the attempt that ended."""

    position: int
    sent_width: int
    sent_height: int
    sent_bytes: int
    tokens_estimated: int
    transport: str | None
    uploaded_file_id: str | None


def job_images(session: Session, job_id: str) -> list[tuple[JobImage, str | None]]:
    """The job's images in order, each with the mime type the content table knows (or None)."""
    rows = session.execute(
        select(JobImage, Image.mime)
        .outerjoin(Image, Image.sha256 == JobImage.sha256)
        .where(JobImage.job_id == job_id)
        .order_by(JobImage.position)
    )
    return [(image, mime) for image, mime in rows]


def add_contents(session: Session, sizes: dict[str, int]) -> None:
    """Content rows for these sha256s (with their sizes) where there are none yet. Two jobs of
    one new image may be submitted at once: the second insert finds the row and leaves it."""
    if not sizes:
        return
    table: Table = Image.__table__  # type: ignore[assignment]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    rows = [
        {"sha256": sha, "size_bytes": size, "created_at": utcnow()} for sha, size in sizes.items()
    ]
    session.execute(dialect.insert(table).on_conflict_do_nothing(index_elements=["sha256"]), rows)


def record_fetched(session: Session, job_id: str, position: int, sha256: str, size: int) -> None:
    """A URL image was downloaded and stored: the content row (if new) and the job's image."""
    add_contents(session, {sha256: size})
    session.execute(
        update(JobImage)
        .where(JobImage.job_id == job_id, JobImage.position == position)
        .values(sha256=sha256)
    )


def record_facts(session: Session, sha256: str, facts: ImageFacts) -> None:
    session.execute(
        update(Image)
        .where(Image.sha256 == sha256)
        .values(
            mime=facts.mime,
            width=facts.width,
            height=facts.height,
            orientation=facts.orientation,
            size_bytes=facts.size_bytes,
        )
    )


_JOB_IMAGES: Table = JobImage.__table__  # type: ignore[assignment]
_RECORD_SENT = (  # built once: an executemany of one row per image
    update(_JOB_IMAGES)
    .where(
        _JOB_IMAGES.c.job_id == bindparam("b_job_id"),
        _JOB_IMAGES.c.position == bindparam("b_position"),
    )
    .values(
        sent_width=bindparam("sent_width"),
        sent_height=bindparam("sent_height"),
        sent_bytes=bindparam("sent_bytes"),
        tokens_estimated=bindparam("tokens_estimated"),
        transport=bindparam("transport"),
        uploaded_file_id=bindparam("uploaded_file_id"),
    )
)


def record_sent_all(session: Session, job_id: str, sent: list[SentImage]) -> None:
    """How each image went (one executemany for all of the job's images)."""
    if not sent:
        return
    session.execute(
        _RECORD_SENT,
        [
            {
                "b_job_id": job_id,
                "b_position": one.position,
                "sent_width": one.sent_width,
                "sent_height": one.sent_height,
                "sent_bytes": one.sent_bytes,
                "tokens_estimated": one.tokens_estimated,
                "transport": one.transport,
                "uploaded_file_id": one.uploaded_file_id,
            }
            for one in sent
        ],
    )
