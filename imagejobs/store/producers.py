"""Producer rows: the apps that submit jobs, their API keys (hashes only) and webhook secrets."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from imagejobs.store.models import Producer


def producer_id_by_name(session: Session, name: str) -> str | None:
    return session.scalars(select(Producer.id).where(Producer.name == name)).first()
