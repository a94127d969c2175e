"""Producers, their API keys and webhook secrets.

API keys are ``ij_`` + 32 random bytes (urlsafe base64); only their sha256 is stored, with a short
prefix to recognise them in listings (which show a key's id and prefix, never the key). A key is
revoked by its id; a producer's last active key is only revoked when forced, so a producer is not
locked out by mistake. Webhook secrets are kept newest first; during a rotation every listed
secret signs each delivery, so receivers holding either one accept it.

Every function works in the caller's session (``runtime.db.session()``), which commits.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from imagejobs.store.models import ApiKey, Producer, utcnow
from imagejobs.webhooks.signing import new_secret

KEY_PREFIX = "ij_"
MAX_NAME_LENGTH = 200


class ProducerNotFound(LookupError):
    pass


class KeyNotFound(LookupError):
    pass


class LastActiveKey(Exception):
    """Revoking this key would leave its producer with no active key (pass ``force``)."""


@dataclass(frozen=True)
class ProducerInfo:
    id: str
    name: str
    webhook_secrets: list[str]


@dataclass(frozen=True)
class NewKey:
    producer: ProducerInfo
    api_key: str  # shown once, never stored
    created_producer: bool
    key_id: str


@dataclass(frozen=True)
class KeyInfo:
    """An API key as listings show it: never the key itself, nor its hash."""

    id: str
    prefix: str
    producer_id: str
    producer: str  # the producer's name
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()


def _info(producer: Producer) -> ProducerInfo:
    return ProducerInfo(producer.id, producer.name, list(producer.webhook_secrets or []))


def check_name(name: str) -> str:
    """The producer name without surrounding blanks; ValueError when empty or too long."""
    cleaned = name.strip()
    if not cleaned:
        raise ValueError("producer name must not be empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ValueError(f"producer name is longer than {MAX_NAME_LENGTH} characters")
    return cleaned


def _by_name(session: Session, name: str) -> Producer | None:
    return session.scalars(select(Producer).where(Producer.name == name)).first()


def _named(session: Session, name: str) -> Producer:
    producer = _by_name(session, check_name(name))
    if producer is None:
        raise ProducerNotFound(f"no producer named {name!r}")
    return producer


def producer_id_by_name(session: Session, name: str) -> str | None:
    return session.scalars(select(Producer.id).where(Producer.name == name)).first()


def create_producer(session: Session, name: str) -> tuple[ProducerInfo, bool]:
    """The producer called ``name``, created with a fresh webhook secret if missing.

    Returns the producer and whether it was created now.
    """
    name = check_name(name)
    producer = _by_name(session, name)
    if producer is not None:
        return _info(producer), False
    producer = Producer(name=name, webhook_secrets=[new_secret()], disabled_webhook_urls=[])
    session.add(producer)
    session.flush()
    return _info(producer), True


def create_key(session: Session, name: str) -> NewKey:
    """A new API key for producer ``name`` (created if missing)."""
    producer, created = create_producer(session, name)
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        producer_id=producer.id,
        prefix=api_key[: len(KEY_PREFIX) + 6],
        key_hash=hash_key(api_key),
    )
    session.add(row)
    session.flush()
    return NewKey(producer, api_key, created, row.id)


def _key_info(row: ApiKey, producer_name: str) -> KeyInfo:
    return KeyInfo(
        row.id, row.prefix, row.producer_id, producer_name, row.created_at, row.revoked_at
    )


def list_keys(
    session: Session, name: str | None = None, *, producer_id: str | None = None
) -> list[KeyInfo]:
    """Every key (or those of producer ``name`` / ``producer_id``), newest first.

    Raises ProducerNotFound for an unknown ``name``.
    """
    query = select(ApiKey, Producer.name).join(Producer, Producer.id == ApiKey.producer_id)
    if name is not None:
        producer_id = _named(session, name).id
    if producer_id is not None:
        query = query.where(ApiKey.producer_id == producer_id)
    rows = session.execute(query.order_by(ApiKey.created_at.desc(), ApiKey.id)).all()
    return [_key_info(row, producer_name) for row, producer_name in rows]


def key_info(session: Session, key_id: str) -> KeyInfo:
    """One key as listings show it; raises KeyNotFound."""
    row = session.execute(
        select(ApiKey, Producer.name)
        .join(Producer, Producer.id == ApiKey.producer_id)
        .where(ApiKey.id == key_id)
    ).first()
    if row is None:
        raise KeyNotFound(f"no API key with id {key_id!r}")
    return _key_info(row[0], row[1])


def revoke_key_by_id(
    session: Session, key_id: str, *, producer_id: str | None = None, force: bool = False
) -> KeyInfo:
    """Revoke key ``key_id`` (only among ``producer_id``'s keys when given); returns it.

    Revoking a revoked key changes nothing. Raises KeyNotFound, or LastActiveKey when it is its
    producer's only active key and ``force`` is false.
    """
    row = session.get(ApiKey, key_id) if 0 < len(key_id) <= 32 else None
    if row is None or (producer_id is not None and row.producer_id != producer_id):
        raise KeyNotFound(f"no API key with id {key_id!r}")
    # Lock the producer so two revocations cannot both see "another key is active".
    producer = session.get(Producer, row.producer_id, with_for_update=True)
    name = producer.name if producer is not None else ""
    if row.revoked_at is not None:
        return _key_info(row, name)
    others = session.scalars(
        select(ApiKey.id).where(
            ApiKey.producer_id == row.producer_id,
            ApiKey.revoked_at.is_(None),
            ApiKey.id != row.id,
        )
    ).first()
    if others is None and not force:
        raise LastActiveKey(
            f"key {key_id} is the last active key of producer {name!r}; create another "
            "first, or force the revocation"
        )
    row.revoked_at = utcnow()
    session.flush()
    return _key_info(row, name)


def authenticate(session: Session, api_key: str) -> ProducerInfo | None:
    """The producer owning this (unrevoked) key, or None."""
    if not api_key.startswith(KEY_PREFIX):
        return None
    producer = session.scalars(
        select(Producer)
        .join(ApiKey, ApiKey.producer_id == Producer.id)
        .where(ApiKey.key_hash == hash_key(api_key), ApiKey.revoked_at.is_(None))
    ).first()
    return _info(producer) if producer is not None else None


def revoke_key(session: Session, api_key: str) -> bool:
    """Revoke the key itself (not its id); False when unknown or already revoked."""
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(api_key))).first()
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


def rotate_secret(session: Session, name: str, *, finish: bool = False) -> ProducerInfo:
    """Start a rotation (a new secret first, the old ones kept) or, with ``finish``, end it
    (keep only the newest). Raises ProducerNotFound."""
    return _rotate(_named(session, name), finish)


def rotate_secret_by_id(session: Session, producer_id: str, *, finish: bool) -> ProducerInfo:
    producer = session.get(Producer, producer_id)
    if producer is None:
        raise ProducerNotFound(producer_id)
    return _rotate(producer, finish)


def _rotate(producer: Producer, finish: bool) -> ProducerInfo:
    current = list(producer.webhook_secrets or [])
    if finish:
        producer.webhook_secrets = current[:1] if current else [new_secret()]
    else:
        producer.webhook_secrets = [new_secret(), *current][:2]
    return _info(producer)


def enable_webhook_url(session: Session, producer_id: str, url: str) -> None:
    """Take ``url`` off the producer's disabled endpoints (a replay of a 410'd delivery)."""
    producer = session.get(Producer, producer_id)
    if producer is not None and url in (producer.disabled_webhook_urls or []):
        producer.disabled_webhook_urls = [u for u in producer.disabled_webhook_urls if u != url]


def disable_webhook_url(session: Session, producer_id: str, url: str) -> None:
    """Put ``url`` on the producer's disabled endpoints (it answered 410)."""
    producer = session.get(Producer, producer_id)
    if producer is not None and url not in (producer.disabled_webhook_urls or []):
        producer.disabled_webhook_urls = [*(producer.disabled_webhook_urls or []), url]


def webhook_secrets(session: Session, producer_id: str | None) -> list[str]:
    """The producer's signing secrets, newest first (empty for no or an unknown producer)."""
    producer = session.get(Producer, producer_id) if producer_id else None
    return list(producer.webhook_secrets or []) if producer is not None else []
