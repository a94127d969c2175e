"""Fast checks of the pieces: cursors, API keys and rotation, webhook verification."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import WebhookVerificationError

from api.client import verify_webhook
from api.paging import BadCursor, decode_cursor, encode_cursor
from imagejobs.settings import get_settings
from imagejobs.store.db import Database
from imagejobs.store.models import ApiKey
from imagejobs.store.producers import NewKey, authenticate, hash_key, revoke_key, rotate_secret
from imagejobs.webhooks import new_secret, sign


def test_cursor_round_trip_and_garbage() -> None:
    at = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert decode_cursor(encode_cursor(at, "ab" * 16)) == (at, "ab" * 16)

    def raw(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode()

    naive = raw("2025-01-02T03:04:05|abcd")
    bad_id = raw("2025-01-02T03:04:05+00:00|xyz")
    for bad in ("", "x", naive, bad_id, raw("no separator"), raw("2025-13-01T00:00:00+00:00|ab")):
        with pytest.raises(BadCursor):
            decode_cursor(bad)


def test_keys_are_stored_hashed_and_can_be_revoked(
    make_producer: Callable[[str], NewKey],
) -> None:
    new = make_producer("units")
    db = Database(get_settings().effective_database_url)
    assert new.api_key.startswith("ij_") and len(new.api_key) > 40
    with db.session() as session:
        assert authenticate(session, new.api_key) == new.producer
        stored = session.scalars(
            select(ApiKey.key_hash).where(ApiKey.producer_id == new.producer.id)
        ).all()
    assert stored == [hash_key(new.api_key)] and new.api_key not in stored
    with db.session() as session:
        assert revoke_key(session, new.api_key)
    with db.session() as session:
        assert authenticate(session, new.api_key) is None
        assert authenticate(session, "not-a-key") is None


def test_rotation_keeps_two_then_one(make_producer: Callable[[str], NewKey]) -> None:
    new = make_producer("rot")
    first = new.producer.webhook_secrets[0]
    db = Database(get_settings().effective_database_url)
    with db.session() as session:
        started = rotate_secret(session, new.producer.name)
    assert started.webhook_secrets[1] == first and len(started.webhook_secrets) == 2
    with db.session() as session:
        again = rotate_secret(session, new.producer.name)
    assert again.webhook_secrets[1] == started.webhook_secrets[0]
    assert len(again.webhook_secrets) == 2
    with db.session() as session:
        done = rotate_secret(session, new.producer.name, finish=True)
    assert done.webhook_secrets == again.webhook_secrets[:1]


def test_verify_webhook_accepts_either_rotated_secret() -> None:
    old, new = new_secret(), new_secret()
    body = b'{"type":"job.succeeded","data":{"id":"x"}}'
    headers = sign([new, old], "msg_1", datetime.now(UTC), body)
    for secret in (old, new):
        assert verify_webhook(headers, body, secret)["type"] == "job.succeeded"
    upper = {k.title(): v for k, v in headers.items()}
    assert verify_webhook(upper, body.decode(), new)["data"] == {"id": "x"}
    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, body, new_secret())
