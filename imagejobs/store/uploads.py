"""Files API uploads: one row per file uploaded to a Gemini API base, found again by content
hash while it has time left before it expires."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from imagejobs.store.models import UploadedFile, utcnow


def find_reusable(
    session: Session, api_base: str, sha256: str, *, margin_s: float, now: datetime | None = None
) -> UploadedFile | None:
    """The upload of this content to ``api_base`` that expires last, if it is still valid for
    ``margin_s`` seconds."""
    return session.scalars(
        select(UploadedFile)
        .where(
            UploadedFile.api_base == api_base,
            UploadedFile.sha256 == sha256,
            UploadedFile.expires_at > (now or utcnow()) + timedelta(seconds=margin_s),
        )
        .order_by(UploadedFile.expires_at.desc())
        .limit(1)
    ).first()


def record_upload(
    session: Session,
    api_base: str,
    sha256: str,
    *,
    name: str,
    uri: str,
    mime: str,
    size_bytes: int,
    expires_at: datetime,
) -> UploadedFile:
    """Remember a file now ACTIVE on ``api_base`` so later jobs with the same content reuse it."""
    row = UploadedFile(
        api_base=api_base,
        sha256=sha256,
        name=name,
        uri=uri,
        mime=mime,
        size_bytes=size_bytes,
        expires_at=expires_at,
    )
    session.add(row)
    return row
