"""The emulator's quota ledger on an explicit clock: sliding windows, waits, Pacific days."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from imagejobs.emulator.quota import QuotaLedger, QuotaLimits, parse_limit_flags, retry_delay

M = "gemini-2.5-flash"


def test_rpm_wait_is_until_enough_old_calls_leave_the_window() -> None:
    ledger, limits = QuotaLedger(), QuotaLimits(rpm={M: 3})
    for when in (0.0, 10.0, 20.0):
        assert ledger.admit(limits, "p", M, 1, when) is None
    refusal = ledger.admit(limits, "p", M, 1, 30.0)
    assert refusal is not None and refusal.retry_after_s == pytest.approx(30.0)
    # limits lowered at run time: two calls must leave before one more fits
    lowered = limits.updated({"rpm": {M: 2}})
    refusal = ledger.admit(lowered, "p", M, 1, 30.0)
    assert refusal is not None and refusal.retry_after_s == pytest.approx(40.0)
    assert ledger.admit(limits, "p", M, 1, 60.0) is None  # the call of t=0 is exactly 60 s old
    assert ledger.admit(limits, "other-project", M, 1, 30.0) is None


def test_tpm_wait_is_until_enough_tokens_leave_the_window() -> None:
    ledger, limits = QuotaLedger(), QuotaLimits(tpm={"*": 1000})
    for when, tokens in ((0.0, 500), (10.0, 300), (20.0, 200)):
        assert ledger.admit(limits, "p", M, tokens, when) is None
    small = ledger.admit(limits, "p", M, 400, 30.0)
    large = ledger.admit(limits, "p", M, 700, 30.0)
    assert small is not None and small.retry_after_s == pytest.approx(30.0)
    assert large is not None and large.retry_after_s == pytest.approx(40.0)
    assert ledger.admit(limits, "p", M, 400, 60.0) is None
    (usage,) = ledger.usage(60.0)
    assert (usage["requests_last_60s"], usage["input_tokens_last_60s"]) == (3, 900)
    assert usage["requests_today"] == 4


def test_refusals_are_not_counted_and_name_every_metric() -> None:
    ledger, limits = QuotaLedger(), QuotaLimits(rpm={"*": 1}, tpm={"*": 10}, rpd={M: 5})
    assert ledger.admit(limits, "p", M, 5, 0.0) is None
    refusal = ledger.admit(limits, "p", M, 8, 1.0)
    assert refusal is not None
    assert [(v.metric, v.limit) for v in refusal.violations] == [("rpm", 1), ("tpm", 10)]
    assert ledger.usage(1.0)[0]["requests_today"] == 1


def test_day_quota_resets_on_the_next_pacific_day() -> None:
    ledger, limits = QuotaLedger(), QuotaLimits(rpd={"*": 1})
    evening = datetime(2026, 7, 1, 6, 0, tzinfo=UTC).timestamp()  # 23:00 PDT
    assert ledger.admit(limits, "p", M, 1, evening) is None
    refusal = ledger.admit(limits, "p", M, 1, evening + 60)
    assert refusal is not None and refusal.retry_after_s == pytest.approx(3540)
    assert ledger.admit(limits, "p", M, 1, evening + 3600) is None


def test_limit_flags_and_retry_delay_text() -> None:
    assert parse_limit_flags("rpm", ["600", "gemini-2.5-pro=150"]) == {
        "*": 600,
        "gemini-2.5-pro": 150,
    }
    with pytest.raises(ValueError, match="--rpm gemini-9-turbo=5"):
        parse_limit_flags("rpm", ["gemini-9-turbo=5"])
    with pytest.raises(ValueError, match="whole number"):
        parse_limit_flags("tpm", ["1.5"])
    assert [retry_delay(s) for s in (0.0, 0.2, 16.01, 17.0)] == ["1s", "1s", "17s", "17s"]
