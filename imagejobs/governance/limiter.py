"""The quota limiter every worker shares: per (Gemini project, model), on Redis, atomic.

One Lua script per step, timed by Redis's own clock (hosts' clocks do not matter):

* **requests per minute** and **input tokens per minute**: GCRA buckets (see
  ``imagejobs.core.quota_limits``); tokens are charged with the pre-flight quote and corrected
  with the billed count on release;
* **requests per day**: a counter per Pacific day, as Gemini's daily quotas reset;
* **concurrent calls**: a lease-based semaphore (a sorted set of lease ids by expiry): a worker
  killed mid-call frees its slot when the lease ends; :meth:`SharedLimiter.extend` renews it;
* **adaptive tightening**: a 429 that arrives anyway (:meth:`SharedLimiter.penalise`) blocks
  the (project, model) until its ``retryDelay`` has passed and slows the pace by
  ``AdaptiveTuning.decrease`` (once per ``min_gap_s``, however many calls in flight get the 429),
  recovering linearly to the full pace over ``recovery_s``.

:meth:`SharedLimiter.try_acquire` answers at once, a :class:`Grant` or a :class:`Wait` saying how
long and why (``retry_delay``, ``rpd``, ``concurrency``, ``rpm``, ``tpm``: the longest wait wins,
since every limit must allow the call). Nothing is charged on a Wait. The caller decides whether
to sleep that long or park the job.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from imagejobs.core.quota_limits import ModelLimits, limits_for, pacific_day
from imagejobs.governance.keys import check_name, model_key, scope

PREFIX = "imagejobs:limiter"

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local rpm_iv, tpm_iv, tau = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens, rpd_limit, rpd_reset = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local slots, lease_ms, lease_id = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9]
local recovery, slot_retry = tonumber(ARGV[10]), tonumber(ARGV[11])
local horizon = tonumber(ARGV[12])
local a = redis.call('HMGET', KEYS[5], 'f0', 't0', 'blocked_until')
local factor = 1
if a[1] then factor = math.min(1, tonumber(a[1]) + (now - tonumber(a[2])) / recovery) end
local wait, reason = 0, ''
local function need(ms, why) if ms > wait then wait = ms; reason = why end end
if a[3] and tonumber(a[3]) > now then need(tonumber(a[3]) - now, 'retry_delay') end
if rpd_limit >= 0 and tonumber(redis.call('GET', KEYS[3]) or '0') + 1 > rpd_limit then
  need(math.max(1, rpd_reset), 'rpd')
end
if slots >= 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
  if redis.call('ZCARD', KEYS[4]) >= slots then
    local first = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
    need(math.max(1, math.min(tonumber(first[2]) - now, slot_retry)), 'concurrency')
  end
end
local rpm_new, tpm_new
if rpm_iv > 0 then
  local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
  if tat - now > tau then need(tat - tau - now, 'rpm') end
  rpm_new = tat + rpm_iv / factor
end
if tpm_iv > 0 then
  local tat = math.max(tonumber(redis.call('GET', KEYS[2]) or '0'), now)
  if tat - now > tau then need(tat - tau - now, 'tpm') end
  tpm_new = tat + tokens * tpm_iv / factor
end
if wait > horizon then return {0, string.format('%.3f', wait), reason} end
if rpm_iv > 0 then
  redis.call('SET', KEYS[1], string.format('%.3f', rpm_new), 'PX', math.ceil(rpm_new - now + 60000))
end
if tpm_iv > 0 then
  redis.call('SET', KEYS[2], string.format('%.3f', tpm_new), 'PX', math.ceil(tpm_new - now + 60000))
end
if rpd_limit >= 0 then
  redis.call('INCR', KEYS[3])
  redis.call('PEXPIRE', KEYS[3], math.ceil(rpd_reset + 3600000))
end
if slots >= 0 then
  redis.call('ZADD', KEYS[4], now + lease_ms, lease_id)
  redis.call('PEXPIRE', KEYS[4], math.ceil(lease_ms + 60000))
end
return {1, string.format('%.3f', now), string.format('%.6f', factor), string.format('%.3f', wait)}
"""

_RELEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local lease_id, tpm_iv = ARGV[1], tonumber(ARGV[2])
local delta, recovery = tonumber(ARGV[3]), tonumber(ARGV[4])
local held = redis.call('ZREM', KEYS[2], lease_id)
if tpm_iv > 0 and delta ~= 0 then
  local a = redis.call('HMGET', KEYS[3], 'f0', 't0')
  local factor = 1
  if a[1] then factor = math.min(1, tonumber(a[1]) + (now - tonumber(a[2])) / recovery) end
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if delta > 0 then tat = math.max(tat, now) end
  local new = math.max(tat + delta * tpm_iv / factor, now)
  redis.call('SET', KEYS[1], string.format('%.3f', new), 'PX', math.ceil(new - now + 60000))
end
return held
"""

_EXTEND = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local lease_ms = tonumber(ARGV[2])
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + lease_ms, ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(lease_ms + 60000))
return 1
"""

_PENALISE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local retry_ms, decrease, floor = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local min_gap, recovery = tonumber(ARGV[4]), tonumber(ARGV[5])
local a = redis.call('HMGET', KEYS[1], 'f0', 't0', 'blocked_until', 'last_cut')
local factor = 1
if a[1] then factor = math.min(1, tonumber(a[1]) + (now - tonumber(a[2])) / recovery) end
local blocked = math.max(tonumber(a[3] or '0'), now + retry_ms)
local last_cut = tonumber(a[4] or '-1e18')
if now - last_cut >= min_gap then
  factor = math.max(floor, factor * decrease)
  last_cut = now
end
redis.call('HSET', KEYS[1], 'f0', string.format('%.6f', factor), 't0', string.format('%.3f', now),
  'blocked_until', string.format('%.3f', blocked), 'last_cut', string.format('%.3f', last_cut))
redis.call('PEXPIRE', KEYS[1], math.ceil((blocked - now) + (1 - factor) * recovery + 60000))
return {string.format('%.6f', factor), string.format('%.3f', blocked - now)}
"""


@dataclass(frozen=True)
class AdaptiveTuning:
    """How a 429 that got through tightens the pace, and how it recovers."""

    decrease: float = 0.5  # pace multiplied by this on a 429
    floor: float = 0.1  # never slower than this share of the configured pace
    recovery_s: float = 120.0  # from 0 to the full pace, linearly (0.5 -> 1 takes half)
    min_gap_s: float = 2.0  # 429s closer than this to the last cut do not cut again
    slot_retry_s: float = 0.25  # longest Wait suggested while every concurrency slot is held

    def __post_init__(self) -> None:
        if not 0 < self.decrease <= 1 or not 0 < self.floor <= 1:
            raise ValueError("decrease and floor must be in (0, 1]")
        if self.recovery_s <= 0 or self.min_gap_s < 0 or self.slot_retry_s <= 0:
            raise ValueError("recovery_s and slot_retry_s must be > 0, min_gap_s >= 0")


@dataclass(frozen=True)
class Grant:
    """Permission for one call; give it back with :meth:`SharedLimiter.release`."""

    project: str
    model: str
    tokens: int  # input tokens charged (the pre-flight quote)
    lease_id: str
    granted_at: float  # Redis clock, epoch seconds
    pace: float  # share of the configured pace in force (1.0 unless tightened by 429s)
    start_in_s: float = 0.0  # a reserved slot: the call may go out this long after the grant


@dataclass(frozen=True)
class Wait:
    """Not now: try again in ``retry_after_s`` (nothing was charged)."""

    retry_after_s: float
    reason: str  # retry_delay | rpd | concurrency | rpm | tpm


class SharedLimiter:
    def __init__(
        self,
        client: redis.Redis,
        limits: Mapping[str, ModelLimits],
        tuning: AdaptiveTuning | None = None,
        prefix: str = PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``limits``: model id (or ``*``) -> limits; a model not in it is not limited (but a
        429 still blocks it until its retryDelay)."""
        self.client = client
        self.limits = dict(limits)
        self.tuning = tuning or AdaptiveTuning()
        self.prefix = prefix
        self.clock = clock  # only for the Pacific day; pacing runs on Redis's clock
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._extend = client.register_script(_EXTEND)
        self._penalise = client.register_script(_PENALISE)

    def try_acquire(
        self, project: str, model: str, tokens: int, *, horizon_s: float = 0.0
    ) -> Grant | Wait:
        """One call of ``tokens`` input tokens (the quote) to ``model`` on ``project``.

        With ``horizon_s`` a call that could go out within that many seconds reserves its slot
        now (the fleet's next free one, so waiters are served in the order they asked) and the
        grant says how long to wait (``start_in_s``); a longer wait is a :class:`Wait`."""
        if tokens < 0:
            raise ValueError(f"tokens must be >= 0, got {tokens}")
        if horizon_s < 0:
            raise ValueError(f"horizon_s must be >= 0, got {horizon_s}")
        model = model_key(model)
        limits = self._limits(model)
        day, until_midnight = pacific_day(self.clock())
        lease_id = secrets.token_hex(8)
        reply = self._acquire(
            keys=self._keys(project, model, day),
            args=[
                _ms(limits.request_interval_s()),
                _ms(limits.token_interval_s()),
                limits.burst_s * 1000,
                tokens,
                -1 if limits.rpd is None else limits.rpd,
                until_midnight * 1000,
                -1 if limits.max_concurrent is None else limits.max_concurrent,
                limits.lease_s * 1000,
                lease_id,
                self.tuning.recovery_s * 1000,
                self.tuning.slot_retry_s * 1000,
                horizon_s * 1000,
            ],
        )
        if int(reply[0]) == 0:
            return Wait(float(reply[1]) / 1000, _text(reply[2]))
        granted_at, pace, start_in = (float(value) for value in reply[1:4])
        return Grant(project, model, tokens, lease_id, granted_at / 1000, pace, start_in / 1000)

    def release(self, grant: Grant, billed_tokens: int | None = None) -> bool:
        """Free the grant's concurrency slot and correct the token bucket by ``billed_tokens -
        grant.tokens`` (None: keep the quote). False if its lease had already expired."""
        limits = self._limits(grant.model)
        delta = 0 if billed_tokens is None else billed_tokens - grant.tokens
        keys = self._keys(grant.project, grant.model, "")
        held = self._release(
            keys=[keys[1], keys[3], keys[4]],
            args=[grant.lease_id, _ms(limits.token_interval_s()), delta, self._recovery_ms()],
        )
        return bool(held)

    def extend(self, grant: Grant) -> bool:
        """Renew the grant's concurrency lease for another ``lease_s`` (a long call)."""
        limits = self._limits(grant.model)
        slots = self._keys(grant.project, grant.model, "")[3]
        return bool(self._extend(keys=[slots], args=[grant.lease_id, limits.lease_s * 1000]))

    def penalise(self, project: str, model: str, retry_after_s: float) -> tuple[float, float]:
        """A 429 got through: block for ``retry_after_s`` and slow the pace. Returns (the pace
        now in force as a share of the configured one, seconds blocked from now)."""
        if retry_after_s < 0:
            raise ValueError(f"retry_after_s must be >= 0, got {retry_after_s}")
        model = model_key(model)
        tuning = self.tuning
        adapt = self._keys(project, model, "")[4]
        pace, blocked_ms = self._penalise(
            keys=[adapt],
            args=[
                retry_after_s * 1000,
                tuning.decrease,
                tuning.floor,
                tuning.min_gap_s * 1000,
                self._recovery_ms(),
            ],
        )
        return float(pace), float(blocked_ms) / 1000

    def state(self, project: str, model: str) -> dict[str, Any]:
        """What /healthz can show: calls in flight, requests today, pace and block."""
        model = model_key(model)
        day, _ = pacific_day(self.clock())
        _, _, rpd, slots, adapt = self._keys(project, model, day)
        now_s, now_us = self.client.time()
        now_ms = now_s * 1000 + now_us / 1000
        pipe = self.client.pipeline(transaction=False)
        pipe.zcount(slots, now_ms, "+inf")
        pipe.get(rpd)
        pipe.hmget(adapt, ["f0", "t0", "blocked_until"])
        in_flight, today, (f0, t0, blocked) = pipe.execute()
        pace = 1.0
        if f0 is not None:
            pace = min(1.0, float(f0) + (now_ms - float(t0)) / self._recovery_ms())
        return {
            "project": project,
            "model": model,
            "in_flight": int(in_flight),
            "requests_today": int(today or 0),
            "pace": round(pace, 4),
            "blocked_for_s": max(0.0, (float(blocked) - now_ms) / 1000) if blocked else 0.0,
        }

    def _limits(self, model: str) -> ModelLimits:
        return limits_for(model, self.limits) or ModelLimits()

    def _recovery_ms(self) -> float:
        return self.tuning.recovery_s * 1000

    def _keys(self, project: str, model: str, day: str) -> list[str]:
        base = scope(self.prefix, check_name("project", project), check_name("model", model))
        return [base + ":rpm", base + ":tpm", f"{base}:rpd:{day}", base + ":slots", base + ":adapt"]


def _ms(seconds: float | None) -> float:
    return 0 if seconds is None else seconds * 1000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
