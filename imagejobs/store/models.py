"""SQLAlchemy tables: Postgres in production and tests, SQLite only for the embedded demo.

The schema is created by Alembic (``migrations/``); these models are its single description.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from imagejobs.core.jobspec import FINAL_STATUSES, JOB_STATUSES, TASKS
from imagejobs.core.times import utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

__all__ = ["FINAL_STATUSES", "JOB_STATUSES", "TASKS", "utcnow"]  # re-exported for the store


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Producer(Base):
    """An app that submits jobs; owns API keys, webhook secrets and its jobs."""

    __tablename__ = "producers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Newest first; during a rotation deliveries are signed with every secret listed.
    webhook_secrets: Mapped[list[Any]] = mapped_column(default=list)
    disabled_webhook_urls: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    producer_id: Mapped[str] = mapped_column(ForeignKey("producers.id", ondelete="CASCADE"))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_created", "status", "created_at"),
        Index("ix_jobs_producer_created", "producer_id", "created_at"),
        Index("ix_jobs_due", "status", "next_attempt_at"),
        Index("ix_jobs_cache_key", "cache_key", "finished_at"),
        UniqueConstraint("producer_id", "idempotency_key", name="uq_jobs_producer_idem"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    producer_id: Mapped[str | None] = mapped_column(ForeignKey("producers.id", ondelete="SET NULL"))
    task: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # Task inputs: prompt / question / labels / target, and call options
    # (thinking_budget, media_resolution, temperature, max_output_tokens).
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    deadline: Mapped[datetime | None]
    job_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_events: Mapped[list[Any]] = mapped_column(default=list)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    # Quota governance: models to run on when the job's own is overloaded, in order; whether an
    # equal earlier job's results may answer it; what to do when the producer's budget is spent
    # ("fail": end budget_exceeded, "wait": park until the period turns).
    fallback_models: Mapped[list[Any]] = mapped_column(default=list)
    use_cache: Mapped[bool] = mapped_column(Boolean, default=True)
    on_budget: Mapped[str] = mapped_column(String(8), default="fail")
    cache_key: Mapped[str | None] = mapped_column(String(80))
    # What happened: the model that answered (a fallback, or ``model``), and the earlier job
    # whose results answered this one when it was served from the result cache.
    answered_model: Mapped[str | None] = mapped_column(String(100))
    cached_from: Mapped[str | None] = mapped_column(String(32))

    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    enqueued_at: Mapped[datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class ProducerShare(Base):
    """A producer's virtual time for fair shares (see :mod:`imagejobs.core.fairshare`)."""

    __tablename__ = "producer_shares"

    producer_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    vtime: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Image(Base):
    """A stored image, content-addressed: the bytes live in the blob store under ``sha256``."""

    __tablename__ = "images"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    mime: Mapped[str | None] = mapped_column(String(32))
    width: Mapped[int | None] = mapped_column(Integer)  # upright
    height: Mapped[int | None] = mapped_column(Integer)
    orientation: Mapped[int | None] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobImage(Base):
    """The ordered images of a job and how each was sent."""

    __tablename__ = "job_images"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str | None] = mapped_column(ForeignKey("images.sha256"))
    source_url: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(String(300))
    transport: Mapped[str | None] = mapped_column(String(8))  # inline | file
    uploaded_file_id: Mapped[str | None] = mapped_column(
        ForeignKey("uploaded_files.id", ondelete="SET NULL")
    )
    sent_width: Mapped[int | None] = mapped_column(Integer)
    sent_height: Mapped[int | None] = mapped_column(Integer)
    sent_bytes: Mapped[int | None] = mapped_column(BigInteger)
    tokens_estimated: Mapped[int | None] = mapped_column(Integer)


class UploadedFile(Base):
    """A file in the Gemini Files API, reused by content hash until shortly before it expires."""

    __tablename__ = "uploaded_files"
    __table_args__ = (Index("ix_uploaded_files_lookup", "api_base", "sha256", "expires_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    api_base: Mapped[str] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))  # of the bytes uploaded
    name: Mapped[str] = mapped_column(String(200))  # files/abc123
    uri: Mapped[str] = mapped_column(Text)
    mime: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobResult(Base):
    """Text results of a job plus what parsing had to say about the raw answer."""

    __tablename__ = "job_results"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    caption: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    labels: Mapped[list[Any] | None] = mapped_column(JSON)
    raw_text: Mapped[str | None] = mapped_column(Text)
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    dropped_boxes: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[list[Any]] = mapped_column(default=list)


class _BoxedResult:
    """Columns shared by detections and masks: which image, what, and where (pixel edges)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer)
    image_position: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(Text)
    x0: Mapped[int] = mapped_column(Integer)
    y0: Mapped[int] = mapped_column(Integer)
    x1: Mapped[int] = mapped_column(Integer)
    y1: Mapped[int] = mapped_column(Integer)
    box_2d: Mapped[list[Any]] = mapped_column(JSON)


class Detection(_BoxedResult, Base):
    __tablename__ = "detections"
    __table_args__ = (UniqueConstraint("job_id", "seq", name="uq_detections_job_seq"),)

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)


class Mask(_BoxedResult, Base):
    __tablename__ = "masks"
    __table_args__ = (UniqueConstraint("job_id", "seq", name="uq_masks_job_seq"),)

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    area: Mapped[int | None] = mapped_column(Integer)
    mask_png: Mapped[bytes | None] = mapped_column(LargeBinary)  # box-sized, 1 = object
    problem: Mapped[str | None] = mapped_column(Text)  # why there is no mask, if none


class Usage(Base):
    """Token quote before the call and billed usage after it, side by side."""

    __tablename__ = "usage"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    estimated_tokens: Mapped[int | None] = mapped_column(Integer)
    estimated_image_tokens: Mapped[int | None] = mapped_column(Integer)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    candidates_tokens: Mapped[int | None] = mapped_column(Integer)
    thoughts_tokens: Mapped[int | None] = mapped_column(Integer)
    total_tokens: Mapped[int | None] = mapped_column(Integer)
    image_tokens: Mapped[int | None] = mapped_column(Integer)
    text_tokens: Mapped[int | None] = mapped_column(Integer)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str | None] = mapped_column(String(100))


class WebhookDelivery(Base):
    """Outbox row: written with the job's final state, then sent by its own task."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    producer_id: Mapped[str | None] = mapped_column(ForeignKey("producers.id", ondelete="SET NULL"))
    event: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(Text)
    webhook_id: Mapped[str] = mapped_column(String(64))  # same on every attempt
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
