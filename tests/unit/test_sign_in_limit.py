"""The console's failed sign-ins per address: refused past the limit, free again as the oldest
failure leaves the window, addresses apart, a bounded memory."""

from __future__ import annotations

import pytest

from api.console import sign_in_limit
from api.console.sign_in_limit import SignInLimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_refused_past_the_limit_until_the_oldest_failure_ages_out() -> None:
    clock = Clock()
    limit = SignInLimit(max_failures=3, window_s=60, clock=clock)
    for _ in range(3):  # failures at 1000, 1010, 1020
        assert limit.retry_after("10.0.0.1") is None
        limit.failed("10.0.0.1")
        clock.now += 10
    assert limit.retry_after("10.0.0.1") == 30.0  # until the first leaves the window at 1060
    assert limit.retry_after("10.0.0.2") is None  # another address is not held back
    clock.now = 1059.5
    assert limit.retry_after("10.0.0.1") == 1.0  # never less than a second
    clock.now = 1060
    assert limit.retry_after("10.0.0.1") is None  # two failures left in the window
    limit.failed("10.0.0.1")
    assert limit.retry_after("10.0.0.1") == 10.0  # the second (1010) leaves at 1070


def test_only_so_many_addresses_are_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sign_in_limit, "MAX_ADDRESSES", 5)
    limit = SignInLimit(max_failures=1, window_s=60, clock=Clock())
    for n in range(8):
        limit.failed(f"10.0.0.{n}")
    assert len(limit._failures) == 5
    assert limit.retry_after("10.0.0.0") is None  # the least recently seen are forgotten first
    assert limit.retry_after("10.0.0.7") is not None
