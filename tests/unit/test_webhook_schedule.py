"""The webhook retry schedule: delays, jitter, exhaustion and Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from imagejobs.settings import DEFAULT_WEBHOOK_SCHEDULE, load_settings
from imagejobs.webhooks.schedule import next_delay, parse_retry_after


class Extreme:
    """An rng that always picks one end of the interval."""

    def __init__(self, end: str) -> None:
        self.end = end

    def uniform(self, a: float, b: float) -> float:
        return a if self.end == "low" else b


def test_scaled_schedule_gives_four_attempts_for_500_500_500_200() -> None:
    schedule = load_settings(webhook_schedule_scale=0.001).webhook_delays()
    answers = [500, 500, 500, 200]
    delays: list[float] = []
    attempts = 0
    for status in answers:
        delay = next_delay(attempts, schedule, retry_after=None, jitter=0)
        assert delay is not None
        delays.append(delay)
        attempts += 1
        if status == 200:
            break
    assert attempts == 4
    assert delays == pytest.approx([0.0, 0.005, 0.3, 1.8])


def test_schedule_is_exhausted_after_its_length() -> None:
    schedule = [float(d) for d in DEFAULT_WEBHOOK_SCHEDULE]
    delays = [next_delay(n, schedule, retry_after=None, jitter=0) for n in range(10)]
    assert delays[:8] == schedule
    assert delays[8:] == [None, None]


def test_exhausted_schedule_ignores_retry_after() -> None:
    assert next_delay(2, [0, 5], retry_after=30) is None


@pytest.mark.parametrize(("end", "expected"), [("low", 270.0), ("high", 330.0)])
def test_jitter_stays_within_ten_percent(end: str, expected: float) -> None:
    assert next_delay(2, [0, 5, 300], retry_after=None, rng=Extreme(end)) == pytest.approx(expected)


def test_jitter_spreads_delays_without_leaving_the_band() -> None:
    rng = random.Random(7)
    delays = [next_delay(1, [0, 100], retry_after=None, rng=rng) for _ in range(200)]
    assert all(d is not None and 90 <= d <= 110 for d in delays)
    assert len({round(d or 0, 6) for d in delays}) > 100


def test_delay_is_never_negative() -> None:
    class Broken:
        def uniform(self, a: float, b: float) -> float:
            return -3.0

    assert next_delay(1, [0, 10], retry_after=None, rng=Broken()) == 0.0
    assert next_delay(0, [0, 10], retry_after=None, rng=Extreme("low")) == 0.0


def test_retry_after_is_a_lower_bound() -> None:
    assert next_delay(1, [0, 5], retry_after=60, rng=Extreme("high")) == 60
    assert next_delay(1, [0, 5], retry_after=1, rng=Extreme("high")) == pytest.approx(5.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attempt_number": -1}, "attempt_number must be >= 0"),
        ({"jitter": 1.5}, "jitter must be a fraction"),
        ({"jitter": -0.1}, "jitter must be a fraction"),
        ({"retry_after": -2.0}, "retry_after must be >= 0"),
        ({"schedule": [0, -5]}, "delays must be >= 0"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"attempt_number": 0, "schedule": [0, 5], "retry_after": None}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        next_delay(**args)  # type: ignore[arg-type]


NOW = datetime(2025, 11, 21, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        ("Fri, 21 Nov 2025 12:01:00 GMT", 60.0),
        ("Fri, 21 Nov 2025 11:00:00 GMT", 0.0),  # in the past
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_with_naive_now_is_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    assert parse_retry_after("Fri, 21 Nov 2025 12:00:30 GMT", naive) == 30.0
