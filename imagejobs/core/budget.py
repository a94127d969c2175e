"""Budget reservations: the arithmetic of spend limits per producer, per day and per month.

Money is counted in whole nano-dollars (10^-9 USD, as google.type.Money's ``nanos``) so sums are
exact everywhere (Redis integers, Lua numbers up to 2^53 nanos = USD 9 million).

The rule: before a call, its pre-flight cost quote is reserved, and the reservation is refused
if ``spent + reserved + quote > limit`` for the day or for the month. After the call the
reservation is replaced by the billed cost. Then, whatever the concurrency, spend never passes

    limit + sum(billed - quoted) over the reservations in flight when the last one was admitted

because every admission leaves ``spent + reserved <= limit`` and each settlement moves that sum
by exactly ``billed - quoted`` (:func:`overshoot_bound`). A reservation never settled (a worker
killed mid-call) expires and frees its amount.

Periods are calendar days and months in the budget's time zone (UTC unless set).

Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from imagejobs.core.pricing import cost_usd

NANOS_PER_USD = 10**9
PERIODS = ("day", "month")


def usd_to_nanos(value: Decimal | float | int | str) -> int:
    """USD to whole nano-dollars, rounded up (a quote is never under-reserved)."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not an amount of USD: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"an amount of USD must be finite and >= 0, got {value!r}")
    return math.ceil(amount * NANOS_PER_USD)


def nanos_to_usd(nanos: int) -> Decimal:
    return Decimal(nanos) / NANOS_PER_USD


def format_usd(nanos: int) -> str:
    """``$0.000465`` style: cents for large amounts, six decimals below a dollar."""
    usd = nanos_to_usd(nanos)
    places = Decimal("0.01") if usd >= 1 else Decimal("0.000001")
    return f"${usd.quantize(places, ROUND_HALF_UP):,}"


@dataclass(frozen=True)
class BudgetLimits:
    """A producer's spend limits; None means no limit for that period."""

    daily_usd: Decimal | None = None
    monthly_usd: Decimal | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str = "budget") -> BudgetLimits:
        """From ``{"daily_usd": 5, "monthly_usd": "100"}``; names what is wrong."""
        unknown = sorted(set(raw) - {"daily_usd", "monthly_usd"})
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {unknown}; known: daily_usd, monthly_usd")
        values = {}
        for name in ("daily_usd", "monthly_usd"):
            if raw.get(name) is not None:
                try:
                    usd_to_nanos(raw[name])
                except ValueError as exc:
                    raise ValueError(f"{where}.{name}: {exc}") from None
                values[name] = Decimal(str(raw[name]))
        return cls(**values)

    def limit_nanos(self, period: str) -> int | None:
        value = self.daily_usd if period == "day" else self.monthly_usd
        return None if value is None else usd_to_nanos(value)


@dataclass(frozen=True)
class BudgetPeriods:
    day: str  # 2026-11-21
    month: str  # 2026-11

    def of(self, period: str) -> str:
        return self.day if period == "day" else self.month


def budget_periods(now: float, zone: tzinfo = UTC) -> BudgetPeriods:
    local = datetime.fromtimestamp(now, zone)
    return BudgetPeriods(local.strftime("%Y-%m-%d"), local.strftime("%Y-%m"))


def seconds_until_period_ends(period: str, now: float, zone: tzinfo = UTC) -> float:
    """Seconds from ``now`` until the budget ``period`` (day or month) in ``zone`` turns
    (at least 1: a job waiting for it is not sent back at once)."""
    local = datetime.fromtimestamp(now, zone)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        end = start + timedelta(days=1)
    else:
        end = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
    return max(1.0, end.timestamp() - now)


@dataclass(frozen=True)
class PeriodSpend:
    spent: int = 0  # billed, nanos
    reserved: int = 0  # quoted and not yet settled, nanos


@dataclass(frozen=True)
class BudgetRefusal:
    """A reservation that would pass a limit, with the figures that say so."""

    period: str  # day | month
    limit: int
    spent: int
    reserved: int
    quote: int

    def message(self, producer: str) -> str:
        label = "daily" if self.period == "day" else "monthly"
        return (
            f"producer {producer!r}: the {label} budget of {format_usd(self.limit)} would be "
            f"exceeded: spent {format_usd(self.spent)}, reserved by jobs running "
            f"{format_usd(self.reserved)}, this job's quote {format_usd(self.quote)}"
        )


def check_reservation(
    limits: BudgetLimits, spend: dict[str, PeriodSpend], quote: int
) -> BudgetRefusal | None:
    """None if ``quote`` fits every period's limit, else the first period it does not fit."""
    if quote < 0:
        raise ValueError(f"a quote must be >= 0 nanos, got {quote}")
    for period in PERIODS:
        limit = limits.limit_nanos(period)
        current = spend.get(period, PeriodSpend())
        if limit is not None and current.spent + current.reserved + quote > limit:
            return BudgetRefusal(period, limit, current.spent, current.reserved, quote)
    return None


def quote_nanos(
    model: str,
    prompt_tokens: int,
    output_tokens: int,
    prices: dict[str, dict[str, float]],
) -> int | None:
    """The pre-flight cost of a call: its estimated prompt tokens plus the output it may
    produce (``max_output_tokens``, or a per-task allowance), rounded up; None if unpriced."""
    cost = cost_usd(model, prompt_tokens, output_tokens, prices)
    return None if cost is None else usd_to_nanos(cost)


def overshoot_bound(in_flight: Iterable[tuple[int, int]]) -> int:
    """How far spend may pass a limit: sum of (billed - quoted) over the reservations in flight
    when the last one was admitted, ``in_flight`` being (quoted, billed) pairs."""
    return sum(billed - quoted for quoted, billed in in_flight)


# Output a call is quoted for when the job sets no max_output_tokens: generous for each task's
# answer shape (thinking is off for boxes and masks; captions and answers are short prose).
OUTPUT_ALLOWANCE = {
    "caption": 1024,
    "ask": 1024,
    "classify": 256,
    "detect": 2048,
    "segment": 8192,
    "compare": 2048,
}


def output_allowance(task: str, max_output_tokens: int | None) -> int:
    """Output tokens one call of ``task`` is quoted for."""
    return max_output_tokens if max_output_tokens else OUTPUT_ALLOWANCE.get(task, 2048)
