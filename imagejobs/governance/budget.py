"""Budget reservations per producer on Redis: reserve a quote atomically, settle with the bill.

The arithmetic is ``imagejobs.core.budget``; here it runs inside Lua scripts so that checking
``spent + reserved + quote <= limit`` and adding the reservation is one atomic step, whatever
the number of workers (the bound on overshoot is in ``core.budget``'s docstring). Per producer
(one hash tag, so one cluster slot):

* ``:spend`` hash: ``day:<date>:spent``, ``day:<date>:reserved``, ``month:<yyyy-mm>:...`` in
  nano-dollars (older periods' fields are dropped on the first reservation of a new one);
* ``:res`` hash and ``:res:expiry`` sorted set: live reservations (quote and periods) and their
  expiry; an expired one is dropped (its amount freed) by the next reserve or read;
* ``:settled`` sorted set: reservations already settled, remembered for
  :data:`SETTLED_MEMORY_S`, so settling twice (a retried final write) charges once.

A reservation is charged to the day and month it was made in, and so is its bill.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

import redis

from imagejobs.core.budget import (
    BudgetLimits,
    BudgetRefusal,
    PeriodSpend,
    budget_periods,
)
from imagejobs.governance.keys import check_name, scope

PREFIX = "imagejobs:budget"
SETTLED_MEMORY_S = 6 * 3600
KEYS_TTL_S = 40 * 24 * 3600  # longer than a month of silence

_PURGE = """
local function give_back(field, q)  -- q: a decimal string ('-0' is not an integer to Redis)
  if q ~= '0' then redis.call('HINCRBY', KEYS[1], field, '-' .. q) end
end
local function purge(now)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
  for _, id in ipairs(expired) do
    local rec = redis.call('HGET', KEYS[2], id)
    if rec then
      local q, d, m = string.match(rec, '^(%d+)|([^|]+)|([^|]+)$')
      give_back('day:' .. d .. ':reserved', q)
      give_back('month:' .. m .. ':reserved', q)
      redis.call('HDEL', KEYS[2], id)
    end
    redis.call('ZREM', KEYS[3], id)
  end
end
local function num(field) return tonumber(redis.call('HGET', KEYS[1], field) or '0') end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

_RESERVE = (
    _PURGE
    + """
local id, quote, day, month = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local day_limit, month_limit, ttl_ms = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local keys_ttl = tonumber(ARGV[8])
purge(now)
if redis.call('HEXISTS', KEYS[2], id) == 1 then return {2} end
local dk, mk = 'day:' .. day .. ':', 'month:' .. month .. ':'
if redis.call('HEXISTS', KEYS[1], dk .. 'reserved') == 0 then
  for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
    local is_day = string.sub(field, 1, 4) == 'day:'
    if (is_day and string.sub(field, 1, #dk) ~= dk)
        or (not is_day and string.sub(field, 1, #mk) ~= mk) then
      redis.call('HDEL', KEYS[1], field)
    end
  end
end
local ds, dr = num(dk .. 'spent'), num(dk .. 'reserved')
local ms, mr = num(mk .. 'spent'), num(mk .. 'reserved')
if day_limit >= 0 and ds + dr + quote > day_limit then
  return {0, 'day', day_limit, ds, dr}
end
if month_limit >= 0 and ms + mr + quote > month_limit then
  return {0, 'month', month_limit, ms, mr}
end
redis.call('HINCRBY', KEYS[1], dk .. 'reserved', ARGV[2])
redis.call('HINCRBY', KEYS[1], mk .. 'reserved', ARGV[2])
redis.call('HSET', KEYS[2], id, ARGV[2] .. '|' .. day .. '|' .. month)
redis.call('ZADD', KEYS[3], now + ttl_ms, id)
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], keys_ttl) end
return {1, now + ttl_ms}
"""
)

_SETTLE = (
    _PURGE
    + """
local id, billed, day, month = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local memory_ms, keys_ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
if redis.call('ZSCORE', KEYS[4], id) then return -1 end
local rec = redis.call('HGET', KEYS[2], id)
if rec then
  local q = string.match(rec, '^(%d+)|')
  give_back('day:' .. day .. ':reserved', q)
  give_back('month:' .. month .. ':reserved', q)
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
end
if billed > 0 then
  redis.call('HINCRBY', KEYS[1], 'day:' .. day .. ':spent', ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'month:' .. month .. ':spent', ARGV[2])
end
redis.call('ZADD', KEYS[4], now + memory_ms, id)
for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], keys_ttl) end
if rec then return 1 end
return 0
"""
)

_READ = (
    _PURGE
    + """
purge(now)
local dk, mk = 'day:' .. ARGV[1] .. ':', 'month:' .. ARGV[2] .. ':'
return {num(dk .. 'spent'), num(dk .. 'reserved'), num(mk .. 'spent'), num(mk .. 'reserved'),
  redis.call('HLEN', KEYS[2])}
"""
)


@dataclass(frozen=True)
class Reservation:
    producer: str
    reservation_id: str
    quote: int  # nanos
    day: str
    month: str
    expires_at: float  # Redis clock, epoch seconds


class BudgetStore:
    def __init__(
        self,
        client: redis.Redis,
        ttl_s: float = 900.0,
        zone: tzinfo = UTC,
        prefix: str = PREFIX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``ttl_s``: a reservation not settled by then is dropped (longer than any call with
        its retries within one attempt); ``zone``: where budget days and months begin."""
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be > 0, got {ttl_s}")
        self.client = client
        self.ttl_s = ttl_s
        self.zone = zone
        self.prefix = prefix
        self.clock = clock  # only for naming the day and month
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)
        self._read = client.register_script(_READ)

    def reserve(
        self,
        producer: str,
        quote: int,
        limits: BudgetLimits,
        reservation_id: str | None = None,
    ) -> Reservation | BudgetRefusal:
        """Reserve ``quote`` nanos, or say which limit it would pass. Reserving the same
        ``reservation_id`` again (a retried attempt) returns the reservation without charging
        twice."""
        if quote < 0:
            raise ValueError(f"a quote must be >= 0 nanos, got {quote}")
        periods = budget_periods(self.clock(), self.zone)
        rid = reservation_id or secrets.token_hex(12)
        check_name("reservation", rid)
        reply = self._reserve(
            keys=self._keys(producer),
            args=[
                rid,
                quote,
                periods.day,
                periods.month,
                _limit(limits.limit_nanos("day")),
                _limit(limits.limit_nanos("month")),
                int(self.ttl_s * 1000),
                KEYS_TTL_S * 1000,
            ],
        )
        status = int(reply[0])
        if status == 0:
            period = _text(reply[1])
            return BudgetRefusal(period, int(reply[2]), int(reply[3]), int(reply[4]), quote)
        expires = float(reply[1]) / 1000 if status == 1 else self.clock() + self.ttl_s
        return Reservation(producer, rid, quote, periods.day, periods.month, expires)

    def settle(self, reservation: Reservation, billed: int) -> bool:
        """Replace the reservation by ``billed`` nanos of spend (charged even if the
        reservation had expired: the money was spent). False if it was settled already."""
        if billed < 0:
            raise ValueError(f"billed must be >= 0 nanos, got {billed}")
        reply = self._settle(
            keys=self._keys(reservation.producer),
            args=[
                reservation.reservation_id,
                billed,
                reservation.day,
                reservation.month,
                SETTLED_MEMORY_S * 1000,
                KEYS_TTL_S * 1000,
            ],
        )
        return int(reply) >= 0

    def release(self, reservation: Reservation) -> bool:
        """The call was not made: free the reservation, spend nothing."""
        return self.settle(reservation, 0)

    def spend(self, producer: str) -> dict[str, Any]:
        """This day's and month's spend and reservations (expired ones dropped first)."""
        periods = budget_periods(self.clock(), self.zone)
        ds, dr, ms, mr, live = self._read(
            keys=self._keys(producer), args=[periods.day, periods.month]
        )
        return {
            "day": PeriodSpend(int(ds), int(dr)),
            "month": PeriodSpend(int(ms), int(mr)),
            "reservations": int(live),
            "periods": periods,
        }

    def _keys(self, producer: str) -> list[str]:
        base = scope(self.prefix, check_name("producer", producer))
        return [base + ":spend", base + ":res", base + ":res:expiry", base + ":settled"]


def _limit(nanos: int | None) -> int:
    return -1 if nanos is None else nanos


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
