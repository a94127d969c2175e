"""What to do after an attempt failed: try again soon, park the job, or fail it (pure, no I/O).

The backoff doubles per attempt from ``base_s`` up to ``max_s``, times a jitter of 0.5..1.5.
A delay the upstream asked for (Gemini's RetryInfo ``retryDelay`` or ``Retry-After``) wins, plus
a little jitter (at most 10 %, at most 1 s). A delay longer than ``park_after_s`` parks the job:
no delayed message is sent, the sweeper sends one when it is due. No retry is scheduled after
``max_attempts`` attempts, nor one that would start after the job's deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

Uniform = Callable[[float, float], float]  # random.uniform, or a seeded Random's uniform


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_s: float
    max_s: float
    park_after_s: float


@dataclass(frozen=True)
class RetryAt:
    """Send a delayed message: the next attempt starts in ``delay_s`` (at ``at``)."""

    at: datetime
    delay_s: float


@dataclass(frozen=True)
class ParkUntil:
    """The wait is long: leave the job queued without a message; the sweeper sends it ``until``."""

    until: datetime
    delay_s: float


@dataclass(frozen=True)
class FailWith:
    """No further attempt: the job fails with this message."""

    message: str


RetryDecision = RetryAt | ParkUntil | FailWith


def backoff_s(attempt: int, policy: RetryPolicy) -> float:
    """The backoff before attempt ``attempt + 1`` (without jitter): doubling, capped."""
    return min(policy.max_s, policy.base_s * 2 ** (attempt - 1))


def decide_retry(
    *,
    attempt: int,
    retryable: bool,
    message: str,
    retry_after_s: float | None,
    policy: RetryPolicy,
    deadline: datetime | None,
    now: datetime,
    uniform: Uniform,
) -> RetryDecision:
    """The one decision after attempt number ``attempt`` (1 for the first) failed."""
    if attempt < 1:
        raise ValueError(f"attempt must be 1 or more, got {attempt}")
    if not retryable:
        return FailWith(message)
    if attempt >= policy.max_attempts:
        return FailWith(f"gave up after {attempt} attempts; last error: {message}")
    if retry_after_s is not None:
        delay = retry_after_s + uniform(0, min(1.0, retry_after_s * 0.1))
    else:
        delay = backoff_s(attempt, policy) * uniform(0.5, 1.5)
    at = now + timedelta(seconds=delay)
    if deadline is not None and at > deadline:
        return FailWith(f"{message} (no retry: the next attempt would miss the job's deadline)")
    if delay > policy.park_after_s:
        return ParkUntil(at, delay)
    return RetryAt(at, delay)


def deadline_passed(deadline: datetime | None, now: datetime) -> bool:
    """True once a job's deadline is behind ``now`` (it then fails before calling Gemini)."""
    return deadline is not None and now > deadline
