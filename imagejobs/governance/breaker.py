"""The circuit breaker every worker shares, per (Gemini project, model), on Redis.

The state machine is ``imagejobs.core.breaker_policy``; this module keeps its state in one Redis
key per (project, model) and changes it in a WATCH/MULTI transaction (retried on a conflict), so
concurrent outcomes from many hosts apply one after another, timed by Redis's clock. While the
breaker is open, :meth:`SharedBreaker.allow` lets one call through per probe interval across the
whole fleet: the probe slot is a key taken with ``SET NX PX`` (opening the breaker takes it too,
so the first probe waits one interval). The hot path, a closed breaker and a call that
succeeded, is one GET.

Transitions are logged (``imagejobs.governance.breaker``: opening as a warning, the rest as
info); :meth:`SharedBreaker.snapshot` lists every breaker that is not plainly closed, for
/healthz.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import redis

from imagejobs.core.breaker_policy import BreakerPolicy, BreakerState, describe_transition, record
from imagejobs.governance.keys import check_name, model_key, scope

PREFIX = "imagejobs:breaker"
CLOSED_TTL_S = 24 * 3600  # a closed breaker's key (its counters) is forgotten a day after
MAX_CONFLICTS = 100
log = logging.getLogger("imagejobs.governance.breaker")


@dataclass(frozen=True)
class Permit:
    """Whether a call may go out now; ``probe``: it is the fleet's probe of an open breaker."""

    allowed: bool
    probe: bool
    state: str
    retry_after_s: float = 0.0  # when not allowed: until the next probe slot
    # Closed with no recent failures, so a success would change nothing (not compared).
    clean: bool = field(default=False, compare=False)


class SharedBreaker:
    def __init__(
        self, client: redis.Redis, policy: BreakerPolicy | None = None, prefix: str = PREFIX
    ) -> None:
        self.client = client
        self.policy = policy or BreakerPolicy()
        self.prefix = prefix

    def allow(self, project: str, model: str) -> Permit:
        state_key, probe_key = self._keys(project, model)
        state = BreakerState.from_json(self.client.get(state_key))
        if state.state == "closed":
            return Permit(True, False, "closed", clean=not state.failures)
        interval_ms = int(self.policy.probe_interval_s * 1000)
        if self.client.set(probe_key, "1", nx=True, px=interval_ms):
            return Permit(True, True, state.state)
        ttl_ms = self.client.pttl(probe_key)
        return Permit(False, False, state.state, max(0, int(ttl_ms)) / 1000)

    def give_back_probe(self, project: str, model: str) -> None:
        """A probe slot taken by :meth:`allow` will not be used: another worker may probe."""
        self.client.delete(self._keys(project, model)[1])

    def record(self, project: str, model: str, outcome: str, *, probe: bool = False) -> str:
        """Apply a call's outcome (see ``breaker_policy.OUTCOMES``); returns the state after."""
        model = model_key(model)
        state_key, probe_key = self._keys(project, model)
        quick = BreakerState.from_json(self.client.get(state_key))
        if quick.state == "closed" and not quick.failures and outcome in ("success", "neutral"):
            return "closed"  # the hot path: nothing to change
        for _ in range(MAX_CONFLICTS):
            with self.client.pipeline() as pipe:
                try:
                    pipe.watch(state_key)
                    before = BreakerState.from_json(pipe.get(state_key))
                    seconds, micros = pipe.time()
                    now = seconds + micros / 1e6
                    after = record(before, self.policy, outcome, now, probe=probe)
                    if after == before:
                        pipe.unwatch()
                        return after.state
                    pipe.multi()
                    if after.state == "closed":
                        pipe.set(state_key, after.to_json(), ex=CLOSED_TTL_S)
                    else:
                        pipe.set(state_key, after.to_json())
                    if after.state == "open":  # (re)opened: the next probe waits an interval
                        pipe.set(probe_key, "1", px=int(self.policy.probe_interval_s * 1000))
                    if after.state == "closed" and before.state != "closed":
                        pipe.delete(probe_key)
                    pipe.execute()
                except redis.WatchError:
                    continue
            self.client.sadd(self._index(), f"{project}|{model}")
            if after.state != before.state:
                level = logging.WARNING if after.state == "open" else logging.INFO
                line = describe_transition(before, after, self.policy)
                log.log(level, "breaker %s/%s: %s", project, model, line)
            return after.state
        raise RuntimeError(f"breaker {project}/{model}: {MAX_CONFLICTS} write conflicts in a row")

    def snapshot(self) -> list[dict[str, Any]]:
        """Every breaker with a state other than plainly closed: for /healthz."""
        rows = []
        for raw in sorted(self.client.smembers(self._index())):
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            project, _, model = name.partition("|")
            state_key, probe_key = self._keys(project, model)
            pipe = self.client.pipeline(transaction=False)
            pipe.get(state_key)
            pipe.pttl(probe_key)
            pipe.time()
            value, probe_ttl, (seconds, micros) = pipe.execute()
            if value is None:
                self.client.srem(self._index(), raw)
                continue
            state = BreakerState.from_json(value)
            if state.state == "closed" and not state.failures:
                continue
            now = seconds + micros / 1e6
            rows.append(
                {
                    "project": project,
                    "model": model,
                    "state": state.state,
                    "for_s": round(now - state.since, 3),
                    "recent_failures": len(state.failures),
                    "probe_successes": state.probe_successes,
                    "next_probe_in_s": max(0, int(probe_ttl)) / 1000
                    if state.state != "closed"
                    else 0.0,
                    "opens": state.opens,
                    "last_outcome": state.last_outcome,
                }
            )
        return rows

    def _keys(self, project: str, model: str) -> tuple[str, str]:
        base = scope(
            self.prefix, check_name("project", project), check_name("model", model_key(model))
        )
        return base + ":state", base + ":probe"

    def _index(self) -> str:
        return self.prefix + ":index"
