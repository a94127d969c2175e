"""Budget reservation maths: exact nanos, day and month limits, the overshoot bound."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from imagejobs.core.budget import (
    BudgetLimits,
    PeriodSpend,
    budget_periods,
    check_reservation,
    format_usd,
    overshoot_bound,
    quote_nanos,
    seconds_until_period_ends,
    usd_to_nanos,
)

PRICES = {"gemini-2.5-flash": {"input": 0.30, "output": 2.50}}


def test_nanos_are_exact_and_quotes_round_up() -> None:
    assert usd_to_nanos("0.1") + usd_to_nanos("0.2") == usd_to_nanos("0.3")  # no float drift
    assert usd_to_nanos(5) == 5_000_000_000
    assert usd_to_nanos("0.0000000001") == 1  # a tenth of a nano still reserves one
    assert quote_nanos("gemini-2.5-flash", 1548, 0, PRICES) == 464_400
    assert quote_nanos("gemini-2.5-flash", 1548, 100, PRICES) == 464_400 + 250_000
    assert quote_nanos("unpriced-model", 10, 10, PRICES) is None
    assert (format_usd(464_400), format_usd(12_345_000_000)) == ("$0.000464", "$12.35")
    with pytest.raises(ValueError, match="finite and >= 0"):
        usd_to_nanos("-1")
    with pytest.raises(ValueError, match="not an amount of USD"):
        usd_to_nanos("five")


def test_a_reservation_fits_both_periods_or_names_the_first_it_passes() -> None:
    limits = BudgetLimits(daily_usd=Decimal("1"), monthly_usd=Decimal("10"))
    fits = {"day": PeriodSpend(600_000_000, 300_000_000), "month": PeriodSpend(5 * 10**9, 0)}
    assert check_reservation(limits, fits, 100_000_000) is None  # exactly the limit
    refusal = check_reservation(limits, fits, 100_000_001)
    assert refusal is not None and (refusal.period, refusal.limit) == ("day", 10**9)
    assert refusal.message("shop") == (
        "producer 'shop': the daily budget of $1.00 would be exceeded: spent $0.600000, "
        "reserved by jobs running $0.300000, this job's quote $0.100000"
    )
    monthly = check_reservation(limits, {"month": PeriodSpend(9_950_000_000, 0)}, 60_000_000)
    assert monthly is not None and monthly.period == "month"
    assert check_reservation(BudgetLimits(), {}, 10**15) is None  # no limits


def test_limits_from_settings_name_the_bad_field() -> None:
    limits = BudgetLimits.from_dict({"daily_usd": 5, "monthly_usd": "100.50"})
    assert limits.limit_nanos("day") == 5 * 10**9
    assert limits.limit_nanos("month") == 100_500_000_000
    with pytest.raises(ValueError, match=r"budgets.shop.daily_usd: .*>= 0"):
        BudgetLimits.from_dict({"daily_usd": -5}, "budgets.shop")
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['weekly_usd'\]"):
        BudgetLimits.from_dict({"weekly_usd": 5})


def test_periods_are_calendar_days_and_months_in_the_zone() -> None:
    now = datetime(2026, 11, 30, 23, 30, tzinfo=UTC).timestamp()
    assert budget_periods(now) == budget_periods(now, UTC)
    assert (budget_periods(now).day, budget_periods(now).month) == ("2026-11-30", "2026-11")
    tokyo = budget_periods(now, ZoneInfo("Asia/Tokyo"))
    assert (tokyo.day, tokyo.month) == ("2026-12-01", "2026-12")


def test_sequential_model_of_concurrent_reservations_respects_the_bound() -> None:
    """Interleave reserve and settle at random; final spend <= limit + the bound, and the bound
    taken at the last admission is exactly what spend passes the limit by at worst."""
    rng = random.Random(5)
    limit = 50 * 1000
    limits = BudgetLimits(daily_usd=Decimal(limit) / 10**9)
    spent = reserved = 0
    in_flight: dict[int, tuple[int, int]] = {}
    bound_at_last_admission = 0
    for job in range(400):
        if in_flight and rng.random() < 0.5:
            done = rng.choice(list(in_flight))
            quoted, billed = in_flight.pop(done)
            reserved -= quoted
            spent += billed
        quote = rng.randint(500, 1500)
        billed = int(quote * rng.uniform(0.7, 1.3))
        if check_reservation(limits, {"day": PeriodSpend(spent, reserved)}, quote) is None:
            reserved += quote
            in_flight[job] = (quote, billed)
            bound_at_last_admission = overshoot_bound(in_flight.values())
    spent += sum(billed for _, billed in in_flight.values())
    assert spent <= limit + bound_at_last_admission


def test_a_budget_period_ends_at_the_zones_next_midnight_or_first_of_month() -> None:
    paris = ZoneInfo("Europe/Paris")
    now = datetime(2026, 12, 31, 22, 30, tzinfo=UTC).timestamp()  # 23:30 in Paris
    assert seconds_until_period_ends("day", now, paris) == 30 * 60
    assert seconds_until_period_ends("month", now, paris) == 30 * 60  # January 1st
    assert seconds_until_period_ends("day", now, UTC) == 90 * 60
    mid_month = datetime(2026, 2, 10, tzinfo=UTC).timestamp()
    assert seconds_until_period_ends("month", mid_month) == 19 * 24 * 3600
    midnight = datetime(2026, 2, 11, tzinfo=UTC).timestamp()
    assert seconds_until_period_ends("day", midnight - 0.5) == 1.0  # never below a second
