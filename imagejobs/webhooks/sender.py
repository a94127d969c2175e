"""One webhook delivery attempt: sign, POST through the guarded fetcher, classify the answer.

Only 2xx is success. Redirects are never followed (a 3xx is a failed attempt), 410 Gone asks the
caller to disable the endpoint, and ``Retry-After`` is read for the scheduler. Guard refusals
and connection errors come back as an outcome with ``error`` set, never as exceptions, so the
caller can record every attempt the same way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from imagejobs.net.errors import URLRefused
from imagejobs.net.fetch import FetchError, GuardedFetcher, redact_url
from imagejobs.webhooks.schedule import parse_retry_after
from imagejobs.webhooks.signing import sign

USER_AGENT = "imagejobs-webhooks/0.1"
ERROR_SNIPPET_CHARS = 200


@dataclass(frozen=True)
class AttemptOutcome:
    status_code: int | None  # None when no HTTP answer was received
    ok: bool  # 2xx only
    disable_endpoint: bool  # the receiver answered 410 Gone
    retry_after_s: float | None  # from the receiver's Retry-After header
    error: str | None
    duration_ms: int


def deliver(
    fetcher: GuardedFetcher,
    url: str,
    secrets: Sequence[str],
    msg_id: str,
    body: bytes,
    *,
    timestamp: datetime | None = None,
) -> AttemptOutcome:
    """POST ``body`` to ``url`` signed with ``secrets`` (Standard Webhooks), once.

    Use the same ``msg_id`` for every attempt of one delivery. Bad secrets or ids raise
    ValueError (a programming error); everything about the receiver becomes the outcome.
    """
    now = timestamp or datetime.now(UTC)
    headers = {
        **sign(secrets, msg_id, now, body),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    started = time.monotonic()

    def outcome(
        status: int | None,
        error: str | None,
        *,
        disable: bool = False,
        retry_after: float | None = None,
    ) -> AttemptOutcome:
        elapsed = int((time.monotonic() - started) * 1000)
        ok = status is not None and 200 <= status < 300
        return AttemptOutcome(status, ok, disable, retry_after, error, elapsed)

    try:
        result = fetcher.post(url, body, headers)
    except (URLRefused, FetchError) as exc:
        return outcome(None, str(exc))  # refused by the guard (nothing sent) or no answer

    status = result.status
    retry_after = parse_retry_after(result.headers.get("retry-after"), datetime.now(UTC))
    if 200 <= status < 300:
        return outcome(status, None, retry_after=retry_after)
    if 300 <= status < 400:
        location = result.headers.get("location")
        where = f" to {redact_url(location)}" if location else ""
        return outcome(status, f"redirect not followed ({status}{where})", retry_after=retry_after)
    if status == 410:
        return outcome(status, "410 Gone: endpoint disabled", disable=True)
    snippet = " ".join(result.body_snippet.split())[:ERROR_SNIPPET_CHARS]
    detail = f": {snippet}" if snippet else ""
    return outcome(status, f"HTTP {status}{detail}", retry_after=retry_after)
