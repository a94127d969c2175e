"""When to try a webhook delivery again: the retry schedule with jitter, and Retry-After."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol


class UniformSource(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


def next_delay(
    attempt_number: int,
    schedule: Sequence[float],
    *,
    retry_after: float | None,
    jitter: float = 0.1,
    rng: UniformSource = random,
) -> float | None:
    """Seconds to wait before the next attempt, or None when the schedule is exhausted.

    ``attempt_number`` is the number of attempts already made, so ``schedule[0]`` is the delay
    before the first attempt (0 = immediately) and ``len(schedule)`` attempts are made in all.
    The delay is jittered by up to ±``jitter`` (a fraction) and never negative; a receiver's
    ``retry_after`` (seconds) is honoured as a lower bound.
    """
    if attempt_number < 0:
        raise ValueError(f"attempt_number must be >= 0, got {attempt_number}")
    if not 0 <= jitter < 1:
        raise ValueError(f"jitter must be a fraction in [0, 1), got {jitter}")
    if retry_after is not None and retry_after < 0:
        raise ValueError(f"retry_after must be >= 0 seconds, got {retry_after}")
    if any(delay < 0 for delay in schedule):
        raise ValueError(f"webhook schedule delays must be >= 0, got {list(schedule)}")
    if attempt_number >= len(schedule):
        return None
    base = float(schedule[attempt_number])
    delay = max(0.0, base * (1.0 + rng.uniform(-jitter, jitter))) if jitter else base
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP date), else None.

    A date in the past gives 0. Unparseable values give None (the header is then ignored).
    A naive ``now`` is taken as UTC.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
