"""Webhooks: event payloads, Standard Webhooks signing, the retry schedule and the sender."""

from imagejobs.webhooks.payload import EVENT_TYPES, build_event, encode_event
from imagejobs.webhooks.schedule import next_delay, parse_retry_after
from imagejobs.webhooks.sender import AttemptOutcome, deliver
from imagejobs.webhooks.signing import new_secret, sign, verify

__all__ = [
    "EVENT_TYPES",
    "AttemptOutcome",
    "build_event",
    "deliver",
    "encode_event",
    "new_secret",
    "next_delay",
    "parse_retry_after",
    "sign",
    "verify",
]
