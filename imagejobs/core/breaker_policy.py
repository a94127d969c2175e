"""Circuit breaker policy for one (Gemini project, model): when it opens, probes and closes.

* **closed**: calls go out. A run of ``failures_to_open`` trip outcomes (503 overloaded,
  timeouts, by default) with no success between them, all within ``window_s``, opens it.
* **open**: no calls go out, except one probe per ``probe_interval_s`` (the first one
  ``probe_interval_s`` after opening). A probe that trips again keeps it open for another
  interval; a probe that succeeds half-opens it.
* **half_open**: still one probe per interval; after ``successes_to_close`` probe successes in a
  row it closes.

Outcomes of calls that were not probes are ignored while open (they were sent before it opened),
and outcomes that say nothing about overload (a 400, a 429: the limiter's business) change
nothing. Who may probe across a fleet is for the store to decide atomically; this module only
says what the state becomes.

Pure: no I/O. States are plain values that serialise to JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal["closed", "open", "half_open"]
OUTCOMES = ("success", "overloaded", "timeout", "server_error", "connection", "neutral")
DEFAULT_TRIPS = frozenset({"overloaded", "timeout"})


@dataclass(frozen=True)
class BreakerPolicy:
    failures_to_open: int = 5
    window_s: float = 30.0
    probe_interval_s: float = 10.0
    successes_to_close: int = 2
    trips_on: frozenset[str] = DEFAULT_TRIPS

    def __post_init__(self) -> None:
        if self.failures_to_open < 1 or self.successes_to_close < 1:
            raise ValueError("failures_to_open and successes_to_close must be >= 1")
        if self.window_s <= 0 or self.probe_interval_s <= 0:
            raise ValueError("window_s and probe_interval_s must be > 0")
        unknown = sorted(set(self.trips_on) - set(OUTCOMES) - {"success"})
        if unknown or "success" in self.trips_on or "neutral" in self.trips_on:
            raise ValueError(
                f"trips_on must name failure outcomes of {list(OUTCOMES[1:-1])}, got "
                f"{sorted(self.trips_on)}"
            )


def outcome_of_status(status: int | None, *, timed_out: bool = False) -> str:
    """The outcome of a call from its HTTP status (None: no answer; ``timed_out``: a timeout)."""
    if timed_out:
        return "timeout"
    if status is None:
        return "connection"
    if 200 <= status < 300:
        return "success"
    if status == 503:
        return "overloaded"
    if status in (500, 502, 504):
        return "server_error"
    return "neutral"


@dataclass(frozen=True)
class BreakerState:
    state: State = "closed"
    failures: tuple[float, ...] = ()  # closed: times of the current run of trip outcomes
    probe_successes: int = 0
    since: float = 0.0  # when it entered this state
    opens: int = 0  # how many times it opened (for logs and /healthz)
    last_outcome: str = field(default="", compare=False)

    def to_json(self) -> str:
        return json.dumps(
            {
                "state": self.state,
                "failures": list(self.failures),
                "probe_successes": self.probe_successes,
                "since": self.since,
                "opens": self.opens,
                "last_outcome": self.last_outcome,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str | bytes | None) -> BreakerState:
        if not raw:
            return cls()
        data: dict[str, Any] = json.loads(raw)
        return cls(
            state=data["state"],
            failures=tuple(float(t) for t in data.get("failures", ())),
            probe_successes=int(data.get("probe_successes", 0)),
            since=float(data.get("since", 0.0)),
            opens=int(data.get("opens", 0)),
            last_outcome=str(data.get("last_outcome", "")),
        )


def record(
    state: BreakerState, policy: BreakerPolicy, outcome: str, now: float, *, probe: bool
) -> BreakerState:
    """The state after a call (``probe``: it was the breaker's probe) ended with ``outcome``."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; known: {list(OUTCOMES)}")
    trips = outcome in policy.trips_on
    if state.state == "closed":
        if outcome == "success":
            return state if not state.failures else BreakerState("closed", (), 0, now, state.opens)
        if not trips:
            return state
        run = (*(t for t in state.failures if t > now - policy.window_s), now)
        if len(run) >= policy.failures_to_open:
            return BreakerState("open", (), 0, now, state.opens + 1, outcome)
        return BreakerState("closed", run, 0, state.since, state.opens, outcome)
    if not probe:
        return state  # sent before it opened: says nothing about now
    if trips:
        return BreakerState("open", (), 0, now, state.opens, outcome)
    if outcome != "success":
        return state
    successes = state.probe_successes + 1
    if successes >= policy.successes_to_close:
        return BreakerState("closed", (), 0, now, state.opens, outcome)
    return BreakerState("half_open", (), successes, now, state.opens, outcome)


def describe_transition(before: BreakerState, after: BreakerState, policy: BreakerPolicy) -> str:
    """A log line for a change of state, e.g. ``closed -> open after 5 overloaded in 3.2 s``."""
    text = f"{before.state} -> {after.state}"
    if after.state == "open" and before.state == "closed":
        run = [t for t in before.failures if t > after.since - policy.window_s]
        took = after.since - (run[0] if run else after.since)
        count = len(run) + 1
        return f"{text} after {count} failures in a row in {took:.1f} s ({after.last_outcome})"
    if after.state == "open":
        return f"{text}: probe ended {after.last_outcome}"
    if after.state == "half_open":
        return f"{text}: probe succeeded ({after.probe_successes}/{policy.successes_to_close})"
    return f"{text} after {policy.successes_to_close} probe successes"
