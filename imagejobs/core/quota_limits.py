"""Gemini quota limits per model, and the arithmetic a shared limiter paces calls with.

Real Gemini limits each Google Cloud project per model: requests per minute (RPM), input tokens
per minute (TPM), requests per day (RPD, reset at midnight Pacific time). ``ModelLimits`` holds
one model's limits plus the limiter's own cap on concurrent calls; ``limits_for`` picks a
model's entry from a table (exact id, else ``*``).

The limiter paces with GCRA (the generic cell rate algorithm): a call is admitted when the
bucket's "theoretical arrival time" is at most ``burst_s`` ahead of now, and each admitted call
pushes it on by one emission interval (per token for TPM). Aiming at ``headroom`` x the quota,
any 60 s window then holds at most ``headroom x rpm + burst_s x rate + 1`` calls, so a sliding-
window quota like Gemini's is not exceeded while the fleet still runs near the quota.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

QUOTA_WINDOW_S = 60.0
ALL_MODELS = "*"
PACIFIC = ZoneInfo("America/Los_Angeles")


@dataclass(frozen=True)
class ModelLimits:
    """One model's limits for one project; None means no limit of that kind."""

    rpm: int | None = None
    tpm: int | None = None  # input (prompt) tokens per minute
    rpd: int | None = None
    max_concurrent: int | None = None  # calls in flight at once, fleet-wide
    headroom: float = 1.0  # share of rpm/tpm the limiter aims at (0 < headroom <= 1)
    burst_s: float = 0.0  # how far ahead of its pace the fleet may run, in seconds
    lease_s: float = 330.0  # a concurrency slot not released by then frees itself

    def __post_init__(self) -> None:
        for name in ("rpm", "tpm", "rpd", "max_concurrent"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be a whole number >= 1 or None, got {value!r}")
        if not 0 < self.headroom <= 1:
            raise ValueError(f"headroom must be in (0, 1], got {self.headroom}")
        if self.burst_s < 0:
            raise ValueError(f"burst_s must be >= 0, got {self.burst_s}")
        if self.lease_s <= 0:
            raise ValueError(f"lease_s must be > 0, got {self.lease_s}")

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str = "limits") -> ModelLimits:
        """From a settings entry such as ``{"rpm": 1000, "tpm": 1000000}``; names what is wrong."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {unknown}; known: {sorted(known)}")
        try:
            return cls(**raw)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None

    def request_interval_s(self) -> float | None:
        """Seconds between calls at the pace aimed at (None without an RPM limit)."""
        if self.rpm is None:
            return None
        return QUOTA_WINDOW_S / (self.rpm * self.headroom)

    def token_interval_s(self) -> float | None:
        """Seconds each input token takes at the pace aimed at (None without a TPM limit)."""
        if self.tpm is None:
            return None
        return QUOTA_WINDOW_S / (self.tpm * self.headroom)

    def most_calls_in_a_window(self) -> int | None:
        """The most calls GCRA admits in any 60 s window with these settings."""
        interval = self.request_interval_s()
        if interval is None:
            return None
        return int((QUOTA_WINDOW_S + self.burst_s) / interval) + 1


def limits_for(model: str, table: dict[str, ModelLimits]) -> ModelLimits | None:
    """``table[model]``, else ``table["*"]``, else None (the model is not limited)."""
    name = model.strip().lower().removeprefix("models/")
    return table.get(name, table.get(ALL_MODELS))


def pacific_day(now: float) -> tuple[str, float]:
    """(the Pacific date of epoch ``now``, seconds until the next Pacific midnight), the day
    Gemini's per-day quotas count (daylight saving included: such days have 23 or 25 hours)."""
    local = datetime.fromtimestamp(now, PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), PACIFIC)
    return local.date().isoformat(), max(0.0, midnight.timestamp() - now)
