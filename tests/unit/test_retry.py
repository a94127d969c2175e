"""The retry decision: backoff growth and cap, retryDelay winning, parking, deadline, give-up."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from imagejobs.core.retry import (
    FailWith,
    ParkUntil,
    RetryAt,
    RetryDecision,
    RetryPolicy,
    Uniform,
    backoff_s,
    deadline_passed,
    decide_retry,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=6, base_s=2.0, max_s=20.0, park_after_s=30.0)


def low(a: float, _b: float) -> float:
    return a


def high(_a: float, b: float) -> float:
    return b


def replace_park(park_after_s: float) -> RetryPolicy:
    return RetryPolicy(POLICY.max_attempts, POLICY.base_s, POLICY.max_s, park_after_s)


def decide(
    attempt: int = 1,
    *,
    retryable: bool = True,
    retry_after_s: float | None = None,
    policy: RetryPolicy = POLICY,
    deadline: datetime | None = None,
    uniform: Uniform = low,
) -> RetryDecision:
    return decide_retry(
        attempt=attempt,
        retryable=retryable,
        message="429 RESOURCE_EXHAUSTED",
        retry_after_s=retry_after_s,
        policy=policy,
        deadline=deadline,
        now=NOW,
        uniform=uniform,
    )


def test_backoff_doubles_per_attempt_until_the_cap() -> None:
    assert [backoff_s(n, POLICY) for n in range(1, 7)] == [2.0, 4.0, 8.0, 16.0, 20.0, 20.0]


@pytest.mark.parametrize(("attempt", "expected"), [(1, 2.0), (2, 4.0), (3, 8.0), (5, 20.0)])
def test_retry_delay_is_the_backoff_with_jitter_between_half_and_one_and_a_half(
    attempt: int, expected: float
) -> None:
    assert decide(attempt, uniform=low) == RetryAt(
        NOW + timedelta(seconds=expected * 0.5), expected * 0.5
    )
    big = replace_park(1000.0)
    assert decide(attempt, uniform=high, policy=big) == RetryAt(
        NOW + timedelta(seconds=expected * 1.5), expected * 1.5
    )


def test_jitter_stays_within_its_band_with_a_real_random_source() -> None:
    source = random.Random(7)
    delays = []
    for _ in range(200):
        decision = decide(3, uniform=source.uniform)
        assert isinstance(decision, RetryAt)
        delays.append(decision.delay_s)
    assert min(delays) >= 4.0 and max(delays) <= 12.0
    assert max(delays) - min(delays) > 4.0  # it does spread


def test_the_upstream_retry_delay_wins_over_the_backoff() -> None:
    decision = decide(1, retry_after_s=7.0, uniform=high)
    assert decision == RetryAt(NOW + timedelta(seconds=7.7), 7.7)
    assert decide(5, retry_after_s=3.0, uniform=low) == RetryAt(NOW + timedelta(seconds=3), 3.0)


def test_retry_delay_jitter_is_at_most_one_second() -> None:
    decision = decide(1, retry_after_s=25.0, uniform=high)
    assert isinstance(decision, RetryAt) and decision.delay_s == 26.0


def test_a_wait_longer_than_park_after_parks_the_job() -> None:
    decision = decide(1, retry_after_s=45.0, uniform=low)
    assert decision == ParkUntil(NOW + timedelta(seconds=45), 45.0)
    at_threshold = decide(1, retry_after_s=30.0, uniform=low)
    assert isinstance(at_threshold, RetryAt)  # exactly park_after_s still sends a message
    backoff_park = decide(4, uniform=high, policy=replace_park(20.0))
    assert backoff_park == ParkUntil(NOW + timedelta(seconds=24), 24.0)


def test_no_retry_that_would_start_after_the_deadline() -> None:
    deadline = NOW + timedelta(seconds=5)
    decision = decide(1, retry_after_s=10.0, deadline=deadline)
    assert decision == FailWith(
        "429 RESOURCE_EXHAUSTED (no retry: the next attempt would miss the job's deadline)"
    )
    assert isinstance(decide(1, retry_after_s=4.0, deadline=deadline), RetryAt)


def test_gives_up_after_max_attempts_naming_the_count_and_last_error() -> None:
    assert isinstance(decide(5), RetryAt)
    assert decide(6) == FailWith("gave up after 6 attempts; last error: 429 RESOURCE_EXHAUSTED")
    assert decide(9, retry_after_s=1.0) == FailWith(
        "gave up after 9 attempts; last error: 429 RESOURCE_EXHAUSTED"
    )


def test_a_permanent_error_fails_at_once_with_its_own_message() -> None:
    assert decide(1, retryable=False) == FailWith("429 RESOURCE_EXHAUSTED")


def test_attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="attempt must be 1 or more, got 0"):
        decide(0)


def test_deadline_passed() -> None:
    assert not deadline_passed(None, NOW)
    assert not deadline_passed(NOW, NOW)
    assert deadline_passed(NOW - timedelta(microseconds=1), NOW)
