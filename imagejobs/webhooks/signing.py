"""Standard Webhooks signatures (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).

Signing and verifying use the ``standardwebhooks`` library. During secret rotation a producer
has two secrets; :func:`sign` puts one ``v1,<base64>`` signature per secret in the header,
separated by spaces, so receivers holding either secret accept the message.
"""

from __future__ import annotations

import base64
import binascii
import secrets as secrets_module
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24

__all__ = ["SECRET_PREFIX", "WebhookVerificationError", "new_secret", "sign", "verify"]


def new_secret() -> str:
    """A fresh producer secret: ``whsec_`` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets_module.token_bytes(SECRET_BYTES)).decode()


def _webhook(secret: str, position: str) -> Webhook:
    """The library's signer for ``secret``; errors name the secret's position, never its value."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"webhook secret {position} must be a string starting with 'whsec_'")
    body = secret.removeprefix(SECRET_PREFIX).rstrip("=")
    try:
        raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"webhook secret {position} is not valid base64 after 'whsec_'") from None
    if not raw:
        raise ValueError(f"webhook secret {position} is empty")
    return Webhook(secret)


def sign(secrets: Sequence[str], msg_id: str, timestamp: datetime, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, signed with every secret in ``secrets``.

    A naive ``timestamp`` is taken as UTC. ``body`` must be UTF-8 (it is the JSON event).
    """
    if isinstance(secrets, str) or not secrets:
        raise ValueError("sign needs a non-empty list of webhook secrets")
    if not msg_id or any(ch.isspace() for ch in msg_id):
        raise ValueError(f"webhook id must be non-empty without spaces, got {msg_id!r}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("webhook body must be UTF-8 encoded") from None
    # The library reads the timestamp with .replace(tzinfo=UTC), so hand it a UTC time.
    utc = timestamp.astimezone(UTC) if timestamp.tzinfo else timestamp.replace(tzinfo=UTC)
    signatures = [
        _webhook(secret, f"#{index + 1}").sign(msg_id=msg_id, timestamp=utc, data=text)
        for index, secret in enumerate(secrets)
    ]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(utc.timestamp())),
        "webhook-signature": " ".join(signatures),
    }


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> dict[str, Any]:
    """Check the signature headers against ``body`` and return the parsed JSON event.

    Raises ``WebhookVerificationError`` on a missing header, a timestamp more than five minutes
    off, or no matching signature; ValueError if the secret is malformed.
    """
    event = _webhook(secret, "given").verify(body, dict(headers))
    if not isinstance(event, dict):
        raise WebhookVerificationError("webhook body is not a JSON object")
    return event
