"""Breaker policy: a run of trips opens it, probes half-open and close it, noise changes nothing."""

from __future__ import annotations

import pytest

from imagejobs.core.breaker_policy import (
    BreakerPolicy,
    BreakerState,
    describe_transition,
    outcome_of_status,
    record,
)

POLICY = BreakerPolicy(failures_to_open=3, window_s=10, probe_interval_s=5, successes_to_close=2)


def feed(state: BreakerState, events: list[tuple[str, float]], probe: bool = False) -> BreakerState:
    for outcome, now in events:
        state = record(state, POLICY, outcome, now, probe=probe)
    return state


def test_a_run_of_trips_within_the_window_opens_it() -> None:
    state = feed(BreakerState(), [("overloaded", 1.0), ("timeout", 2.0)])
    assert state.state == "closed" and state.failures == (1.0, 2.0)
    opened = record(state, POLICY, "overloaded", 3.0, probe=False)
    assert (opened.state, opened.since, opened.opens, opened.failures) == ("open", 3.0, 1, ())
    line = describe_transition(state, opened, POLICY)
    assert line == "closed -> open after 3 failures in a row in 2.0 s (overloaded)"


def test_a_success_breaks_the_run_and_old_trips_fall_out_of_the_window() -> None:
    state = feed(BreakerState(), [("overloaded", 1.0), ("overloaded", 2.0), ("success", 2.5)])
    assert state.failures == ()
    state = feed(state, [("overloaded", 3.0), ("overloaded", 4.0), ("overloaded", 13.5)])
    assert state.state == "closed" and state.failures == (4.0, 13.5)  # 3.0 is 10.5 s old


def test_outcomes_that_say_nothing_about_overload_change_nothing() -> None:
    state = feed(BreakerState(), [("overloaded", 1.0), ("overloaded", 2.0)])
    assert feed(state, [("neutral", 3.0), ("server_error", 3.5), ("connection", 4.0)]) == state
    strict = BreakerPolicy(failures_to_open=1, trips_on=frozenset({"server_error"}))
    assert record(BreakerState(), strict, "server_error", 0.0, probe=False).state == "open"
    assert record(BreakerState(), strict, "overloaded", 0.0, probe=False).state == "closed"


def test_while_open_only_probes_count_and_k_successes_close_it() -> None:
    opened = feed(BreakerState(), [("overloaded", t) for t in (1.0, 2.0, 3.0)])
    assert feed(opened, [("success", 4.0), ("overloaded", 4.5)]) == opened  # not probes
    half = record(opened, POLICY, "success", 8.0, probe=True)
    assert (half.state, half.probe_successes) == ("half_open", 1)
    assert describe_transition(opened, half, POLICY) == "open -> half_open: probe succeeded (1/2)"
    closed = record(half, POLICY, "success", 13.0, probe=True)
    assert (closed.state, closed.since, closed.opens) == ("closed", 13.0, 1)
    assert (
        describe_transition(half, closed, POLICY) == "half_open -> closed after 2 probe successes"
    )


def test_a_failed_probe_reopens_and_a_neutral_probe_changes_nothing() -> None:
    opened = feed(BreakerState(), [("overloaded", t) for t in (1.0, 2.0, 3.0)])
    half = record(opened, POLICY, "success", 8.0, probe=True)
    assert record(half, POLICY, "neutral", 9.0, probe=True) == half
    again = record(half, POLICY, "timeout", 13.0, probe=True)
    assert (again.state, again.since, again.probe_successes) == ("open", 13.0, 0)
    assert describe_transition(half, again, POLICY) == "half_open -> open: probe ended timeout"


def test_state_round_trips_through_json() -> None:
    state = feed(BreakerState(), [("overloaded", 1.5), ("timeout", 2.25)])
    assert BreakerState.from_json(state.to_json()) == state
    assert BreakerState.from_json(None) == BreakerState()


def test_status_codes_map_to_outcomes() -> None:
    assert [outcome_of_status(s) for s in (200, 503, 500, 502, 504, 429, 400, None)] == [
        "success",
        "overloaded",
        "server_error",
        "server_error",
        "server_error",
        "neutral",
        "neutral",
        "connection",
    ]
    assert outcome_of_status(None, timed_out=True) == "timeout"


def test_bad_policy_and_outcome_are_named() -> None:
    with pytest.raises(ValueError, match="trips_on"):
        BreakerPolicy(trips_on=frozenset({"success"}))
    with pytest.raises(ValueError, match="failures_to_open"):
        BreakerPolicy(failures_to_open=0)
    with pytest.raises(ValueError, match="unknown outcome 'busy'"):
        record(BreakerState(), POLICY, "busy", 0.0, probe=False)
