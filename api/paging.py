"""Opaque cursors for ``GET /v1/jobs``: base64 of the last row's ``created_at`` and id."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

ID_CHARS = frozenset("0123456789abcdef")


class BadCursor(ValueError):
    pass


def encode_cursor(created_at: datetime, job_id: str) -> str:
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    raw = f"{created_at.astimezone(UTC).isoformat()}|{job_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises BadCursor for anything this API did not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, job_id = raw.split("|", 1)
        created_at = datetime.fromisoformat(stamp)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("is not a cursor this API handed out") from None
    if created_at.tzinfo is None or not job_id or set(job_id) - ID_CHARS or len(job_id) > 32:
        raise BadCursor("is not a cursor this API handed out")
    return created_at, job_id
