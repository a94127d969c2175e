"""The shared circuit breaker on the real Redis: opens on a run of 503s, one probe per interval
across many threads with their own connections, closes after probe successes, logs and shows
its state."""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
import time
from collections.abc import Callable

import pytest
import redis

from imagejobs.core.breaker_policy import BreakerPolicy, BreakerState
from imagejobs.governance import Permit, SharedBreaker

M = "gemini-2.5-flash"
POLICY = BreakerPolicy(failures_to_open=3, window_s=10, probe_interval_s=0.3, successes_to_close=2)


@pytest.fixture
def prefix() -> str:
    return "test-breaker-" + secrets.token_hex(4)


def open_it(breaker: SharedBreaker) -> None:
    for _ in range(POLICY.failures_to_open):
        breaker.record("p", M, "overloaded")


def in_threads(count: int, redis_url: str, work: Callable[[redis.Redis], None]) -> None:
    def run() -> None:
        connection = redis.Redis.from_url(redis_url)
        try:
            work(connection)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)


def test_a_run_of_503s_opens_it_and_the_first_probe_waits_an_interval(
    client: redis.Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    breaker = SharedBreaker(client, POLICY, prefix)
    assert breaker.allow("p", M) == Permit(True, False, "closed")
    breaker.record("p", M, "success")
    assert client.keys(prefix + "*") == []  # the hot path writes nothing
    breaker.record("p", M, "overloaded")
    breaker.record("p", M, "timeout")
    assert breaker.allow("p", M).allowed
    with caplog.at_level(logging.INFO, "imagejobs.governance.breaker"):
        assert breaker.record("p", M, "overloaded") == "open"
    (line,) = [r for r in caplog.records if r.name == "imagejobs.governance.breaker"]
    assert line.levelno == logging.WARNING
    assert line.getMessage().startswith(f"breaker p/{M}: closed -> open after 3 failures")
    denied = breaker.allow("p", M)
    assert (denied.allowed, denied.state) == (False, "open")
    assert 0 < denied.retry_after_s <= POLICY.probe_interval_s
    assert breaker.allow("p", "gemini-2.0-flash").allowed  # other models are not affected
    (row,) = breaker.snapshot()
    assert (row["project"], row["model"], row["state"], row["opens"]) == ("p", M, "open", 1)
    assert row["last_outcome"] == "overloaded"


def test_one_probe_per_interval_across_the_fleet_then_probes_close_it(
    client: redis.Redis, redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    breaker = SharedBreaker(client, POLICY, prefix)
    open_it(breaker)
    time.sleep(POLICY.probe_interval_s + 0.05)
    permits: list[Permit] = []
    guard = threading.Lock()

    def ask(connection: redis.Redis) -> None:
        permit = SharedBreaker(connection, POLICY, prefix).allow("p", M)
        with guard:
            permits.append(permit)

    in_threads(20, redis_url, ask)
    allowed = [p for p in permits if p.allowed]
    assert len(permits) == 20 and len(allowed) == 1 and allowed[0].probe
    assert breaker.record("p", M, "success", probe=False) == "open"  # not the probe: ignored
    assert breaker.record("p", M, "success", probe=True) == "half_open"
    assert not breaker.allow("p", M).allowed  # half-open: still one probe per interval
    time.sleep(POLICY.probe_interval_s + 0.05)
    probe = breaker.allow("p", M)
    assert probe.allowed and probe.probe and probe.state == "half_open"
    with caplog.at_level(logging.INFO, "imagejobs.governance.breaker"):
        assert breaker.record("p", M, "success", probe=True) == "closed"
    assert "half_open -> closed after 2 probe successes" in caplog.text
    assert breaker.allow("p", M) == Permit(True, False, "closed")
    assert breaker.snapshot() == []


def test_a_failed_probe_reopens_for_another_interval(client: redis.Redis, prefix: str) -> None:
    breaker = SharedBreaker(client, POLICY, prefix)
    open_it(breaker)
    time.sleep(POLICY.probe_interval_s + 0.05)
    assert breaker.allow("p", M).probe
    assert breaker.record("p", M, "overloaded", probe=True) == "open"
    denied = breaker.allow("p", M)
    assert not denied.allowed and denied.retry_after_s > POLICY.probe_interval_s - 0.05
    assert breaker.snapshot()[0]["opens"] == 1  # reopened by a probe: the same outage


def test_concurrent_failures_open_it_once(client: redis.Redis, redis_url: str, prefix: str) -> None:
    def fail(connection: redis.Redis) -> None:
        shared = SharedBreaker(connection, POLICY, prefix)
        for _ in range(5):
            shared.record("p", M, "overloaded")

    in_threads(40, redis_url, fail)
    state = BreakerState.from_json(client.get(f"{prefix}:{{p|{M}}}:state"))
    assert state.state == "open" and state.opens == 1


def test_calls_during_an_outage_are_one_per_probe_interval(redis_url: str, prefix: str) -> None:
    """8 threads keep calling a model that answers 503 to everything for 1.5 s."""
    sent: list[tuple[float, bool]] = []  # (when, was a probe)
    guard = threading.Lock()
    start = time.monotonic()
    until = start + 1.5

    def call(connection: redis.Redis) -> None:
        shared = SharedBreaker(connection, POLICY, prefix)
        while time.monotonic() < until:
            permit = shared.allow("p", M)
            if not permit.allowed:
                time.sleep(min(permit.retry_after_s, 0.05))
                continue
            with guard:
                sent.append((time.monotonic() - start, permit.probe))
            shared.record("p", M, "overloaded", probe=permit.probe)

    in_threads(8, redis_url, call)
    probes = [when for when, probe in sent if probe]
    before_open = len(sent) - len(probes)
    most = int(1.5 / POLICY.probe_interval_s) + 1
    print(
        f"\n503 for 1.5 s, 8 threads: {before_open} calls before it opened, then {len(probes)} "
        f"probes (one per {POLICY.probe_interval_s} s: {most} at most)"
    )
    assert len(probes) <= most
    assert before_open <= POLICY.failures_to_open + 8  # the run that opened it, and in flight
    gaps = [b - a for a, b in itertools.pairwise(sorted(probes))]
    assert all(gap >= POLICY.probe_interval_s - 0.01 for gap in gaps)


def test_bad_names_are_refused(client: redis.Redis, prefix: str) -> None:
    breaker = SharedBreaker(client, POLICY, prefix)
    with pytest.raises(ValueError, match="model name 'a b' is not usable"):
        breaker.allow("p", "a b")
