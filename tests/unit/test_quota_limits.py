"""Quota limits per model and the pacing arithmetic of the shared limiter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from imagejobs.core.quota_limits import ModelLimits, limits_for, pacific_day


def test_pacific_day_follows_daylight_saving() -> None:
    # 2026-03-08 is the spring-forward Sunday: that Pacific day has 23 hours
    half_past_midnight = datetime(2026, 3, 8, 8, 30, tzinfo=UTC).timestamp()  # 00:30 PST
    assert pacific_day(half_past_midnight) == ("2026-03-08", 23 * 3600 - 1800)
    summer = datetime(2026, 7, 1, 6, 59, 59, tzinfo=UTC).timestamp()  # 23:59:59 PDT
    assert pacific_day(summer) == ("2026-06-30", 1.0)
    autumn = datetime(2026, 11, 1, 7, 0, tzinfo=UTC).timestamp()  # 00:00 PDT, a 25-hour day
    assert pacific_day(autumn) == ("2026-11-01", 25 * 3600)


def test_pacing_stays_inside_the_quota_window() -> None:
    limits = ModelLimits(rpm=600, tpm=1_000_000, headroom=0.97, burst_s=1.0)
    assert limits.request_interval_s() == pytest.approx(60 / 582)
    assert limits.token_interval_s() == pytest.approx(60 / 970_000)
    most = limits.most_calls_in_a_window()
    assert most is not None and 582 < most <= 600
    assert ModelLimits(rpm=600).most_calls_in_a_window() == 601  # why headroom is needed
    assert ModelLimits().request_interval_s() is None


def test_limits_lookup_and_settings_errors_name_the_field() -> None:
    table = {"*": ModelLimits(rpm=10), "gemini-2.5-pro": ModelLimits(rpm=2)}
    assert limits_for("models/Gemini-2.5-Pro", table) == ModelLimits(rpm=2)
    assert limits_for("gemini-2.0-flash", table) == ModelLimits(rpm=10)
    assert limits_for("gemini-2.0-flash", {}) is None
    assert ModelLimits.from_dict({"rpm": 5, "tpm": 100}) == ModelLimits(rpm=5, tpm=100)
    with pytest.raises(ValueError, match=r"quotas.gemini-2.5-pro: unknown field\(s\) \['rqm'\]"):
        ModelLimits.from_dict({"rqm": 5}, "quotas.gemini-2.5-pro")
    with pytest.raises(ValueError, match="rpm must be a whole number >= 1"):
        ModelLimits(rpm=0)
    with pytest.raises(ValueError, match="headroom"):
        ModelLimits(rpm=5, headroom=1.5)
