"""Fair shares between producers, shared by every worker: the virtual times of
:mod:`imagejobs.core.fairshare` kept in one Redis hash.

:meth:`SharedFairShare.choose` reads a snapshot and runs the pure policy; :meth:`dispatched`
charges the chosen producer in one atomic step (a Lua script), so two workers choosing at the
same moment may both pick the same producer once, but neither charge is lost and the shares
even out on the next choice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import redis

from imagejobs.core.fairshare import Choice, FairShare, ProducerLoad

PREFIX = "imagejobs:fair"
KEY_TTL_S = 7 * 24 * 3600

_DISPATCHED = """
local system = tonumber(redis.call('HGET', KEYS[1], '@system') or '0')
local own = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or tostring(system))
local vt = math.max(own, system) + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], string.format('%.9f', vt))
local pace = tonumber(ARGV[3])
if pace > 0 then
  local now = tonumber(ARGV[4])
  local start = math.max(tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0'), now)
  redis.call('HSET', KEYS[2], ARGV[1], string.format('%.6f', start + pace))
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return string.format('%.9f', vt)
"""

_LIFT = """
local system = tonumber(redis.call('HGET', KEYS[1], '@system') or '0')
if tonumber(ARGV[1]) > system then
  redis.call('HSET', KEYS[1], '@system', ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


class SharedFairShare:
    def __init__(
        self, client: redis.Redis, prefix: str = PREFIX, clock: Callable[[], float] = time.time
    ) -> None:
        self.client = client
        self.vtimes_key = prefix + ":vtime"
        self.starts_key = prefix + ":next_start"
        self.clock = clock
        self._dispatched = client.register_script(_DISPATCHED)
        self._lift = client.register_script(_LIFT)

    def _snapshot(self) -> FairShare:
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.vtimes_key)
        pipe.hgetall(self.starts_key)
        vtimes, starts = pipe.execute()
        share = FairShare()
        for name, value in vtimes.items():
            key = name.decode() if isinstance(name, bytes) else name
            if key == "@system":
                share.system_vtime = float(value)
            else:
                share.vtime[key] = float(value)
        for name, value in starts.items():
            share.next_start[name.decode() if isinstance(name, bytes) else name] = float(value)
        return share

    def choose(self, loads: Sequence[ProducerLoad]) -> Choice:
        share = self._snapshot()
        before = share.system_vtime
        choice = share.choose(loads, self.clock())
        if share.system_vtime > before:
            self._lift(keys=[self.vtimes_key], args=[f"{share.system_vtime:.9f}", KEY_TTL_S])
        return choice

    def dispatched(self, load: ProducerLoad, cost: float = 1.0) -> float:
        """Charge ``load.producer`` for one job; returns its virtual time after."""
        pace = 60.0 / load.rate_per_min if load.rate_per_min else 0.0
        reply = self._dispatched(
            keys=[self.vtimes_key, self.starts_key],
            args=[load.producer, cost / load.weight, pace, self.clock(), KEY_TTL_S],
        )
        return float(reply)

    def snapshot(self) -> dict[str, float]:
        share = self._snapshot()
        return {producer: share.effective_vtime(producer) for producer in share.vtime}
