"""Basic auth for both ``/metrics`` (``IMAGEJOBS_METRICS_BASIC_AUTH``: "user:password", several
separated by commas)."""

from __future__ import annotations

import base64
import binascii
import hmac

from pydantic import SecretStr

CHALLENGE = 'Basic realm="imagejobs metrics"'


def credentials(secret: SecretStr | None) -> list[bytes]:
    """The accepted ``user:password`` pairs (empty: no auth asked)."""
    if secret is None:
        return []
    return [pair.encode() for pair in secret.get_secret_value().split(",") if pair]


def authorized(header: str | None, accepted: list[bytes]) -> bool:
    """True if no credentials are set, or the Authorization header carries one of them."""
    if not accepted:
        return True
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    matches = [hmac.compare_digest(given, pair) for pair in accepted]  # every pair compared
    return any(matches)
