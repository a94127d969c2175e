"""The shared quota limiter on the real Redis: pacing, tokens settled with the bill, the day's
count, leased concurrency slots, tightening on a 429 (one from the emulator, through the SDK)."""

from __future__ import annotations

import itertools
import secrets
import threading
import time

import pytest
import redis
from google import genai
from google.genai import errors, types

from imagejobs.core.quota_limits import ModelLimits, pacific_day
from imagejobs.emulator import EmulatorServer
from imagejobs.gemini.errors import retry_delay_from_body
from imagejobs.governance import AdaptiveTuning, Grant, SharedLimiter, Wait

M = "gemini-2.5-flash"


def limiter(client: redis.Redis, limits: ModelLimits, **tuning: float) -> SharedLimiter:
    """A limiter with keys of its own (a fresh prefix), so tests do not see each other."""
    prefix = "test-limiter-" + secrets.token_hex(4)
    return SharedLimiter(client, {M: limits}, AdaptiveTuning(**tuning), prefix=prefix)


def grant(result: Grant | Wait) -> Grant:
    assert isinstance(result, Grant), result
    return result


def wait(result: Grant | Wait) -> Wait:
    assert isinstance(result, Wait), result
    return result


def test_rpm_paces_calls_and_a_wait_charges_nothing(client: redis.Redis) -> None:
    lim = limiter(client, ModelLimits(rpm=6))  # one call every 10 s
    first = grant(lim.try_acquire("p", M, 100))
    assert first.pace == 1.0 and first.model == M
    refused = wait(lim.try_acquire("p", M, 100))
    assert refused.reason == "rpm" and 9.0 < refused.retry_after_s <= 10.0
    again = wait(lim.try_acquire("p", M, 100))  # the refusal did not push the pace on
    assert again.retry_after_s <= refused.retry_after_s
    grant(lim.try_acquire("other-project", M, 100))
    grant(lim.try_acquire("p", "gemini-2.0-flash", 100))  # no limits for that model


def test_a_horizon_reserves_the_next_slots_in_the_order_asked(client: redis.Redis) -> None:
    lim = limiter(client, ModelLimits(rpm=60))  # one call a second
    starts = [grant(lim.try_acquire("p", M, 10, horizon_s=2.5)).start_in_s for _ in range(3)]
    assert starts[0] == 0.0 and 0.9 < starts[1] <= 1.0 and 1.9 < starts[2] <= 2.0
    beyond = wait(lim.try_acquire("p", M, 10, horizon_s=2.5))  # the 4th slot is 3 s away
    assert beyond.reason == "rpm" and 2.5 < beyond.retry_after_s <= 3.0
    with pytest.raises(ValueError, match="horizon_s"):
        lim.try_acquire("p", M, 10, horizon_s=-1)


def test_burst_admits_that_many_seconds_of_pace_at_once(client: redis.Redis) -> None:
    lim = limiter(client, ModelLimits(rpm=6, burst_s=20))  # 10 s pace, 20 s ahead allowed
    for _ in range(3):
        grant(lim.try_acquire("p", M, 0))
    refused = wait(lim.try_acquire("p", M, 0))
    assert refused.reason == "rpm" and 9.0 < refused.retry_after_s <= 10.0


def test_tokens_are_charged_with_the_quote_and_corrected_with_the_bill(
    client: redis.Redis,
) -> None:
    lim = limiter(client, ModelLimits(tpm=60_000))  # 1 ms a token
    quoted = grant(lim.try_acquire("p", M, 30_000))
    refused = wait(lim.try_acquire("p", M, 1))
    assert refused.reason == "tpm" and 29.0 < refused.retry_after_s <= 30.0
    lim.release(quoted, billed_tokens=10_000)  # billed 20,000 fewer: 20 s given back
    assert wait(lim.try_acquire("p", M, 1)).retry_after_s <= 10.0
    more = grant(lim.try_acquire("other", M, 1000))
    lim.release(more, billed_tokens=16_000)  # billed 15,000 more than quoted: 15 s further
    assert wait(lim.try_acquire("other", M, 1)).retry_after_s > 15.0
    lim.release(grant(lim.try_acquire("third", M, 5000)), billed_tokens=0)
    grant(lim.try_acquire("third", M, 5000))  # all 5 s returned, none banked beyond now


def test_requests_per_day_wait_until_pacific_midnight(client: redis.Redis) -> None:
    lim = limiter(client, ModelLimits(rpd=2))
    grant(lim.try_acquire("p", M, 0))
    grant(lim.try_acquire("p", M, 0))
    refused = wait(lim.try_acquire("p", M, 0))
    _, until_midnight = pacific_day(time.time())
    assert refused.reason == "rpd" and abs(refused.retry_after_s - until_midnight) < 5
    assert lim.state("p", M)["requests_today"] == 2


def test_concurrency_slots_are_leases_that_free_themselves(client: redis.Redis) -> None:
    lim = limiter(client, ModelLimits(max_concurrent=2, lease_s=0.3), slot_retry_s=0.05)
    held = [grant(lim.try_acquire("p", M, 0)), grant(lim.try_acquire("p", M, 0))]
    refused = wait(lim.try_acquire("p", M, 0))
    assert refused.reason == "concurrency" and 0 < refused.retry_after_s <= 0.05
    assert lim.release(held[0]) is True
    third = grant(lim.try_acquire("p", M, 0))
    assert lim.state("p", M)["in_flight"] == 2
    assert lim.extend(third) is True
    time.sleep(0.45)  # held[1] was never released (a killed worker) and was not extended
    assert lim.state("p", M)["in_flight"] == 0
    grant(lim.try_acquire("p", M, 0))
    assert lim.release(held[1]) is False  # its lease had gone
    assert lim.extend(held[1]) is False


def test_concurrency_cap_holds_across_threads_with_their_own_connections(
    redis_url: str,
) -> None:
    prefix = "test-limiter-" + secrets.token_hex(4)
    limits = {M: ModelLimits(max_concurrent=5, lease_s=30)}
    holding, most, calls = 0, 0, 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal holding, most, calls
        connection = redis.Redis.from_url(redis_url)
        lim = SharedLimiter(connection, limits, AdaptiveTuning(slot_retry_s=0.01), prefix=prefix)
        for _ in range(10):
            while not isinstance(result := lim.try_acquire("p", M, 0), Grant):
                time.sleep(result.retry_after_s)
            with guard:
                holding += 1
                most = max(most, holding)
                calls += 1
            time.sleep(0.005)
            with guard:
                holding -= 1
            lim.release(result)
        connection.close()

    threads = [threading.Thread(target=work) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    print(f"\n200 calls by 20 threads, cap 5: at most {most} held at once")
    assert calls == 200 and most <= 5


def test_grants_across_threads_never_beat_the_pace(redis_url: str) -> None:
    """16 threads with their own connections ask as fast as Wait allows for 1.5 s at 1,200 RPM
    (50 ms pace, no burst): consecutive grants, on Redis's clock, are never closer than that."""
    prefix = "test-limiter-" + secrets.token_hex(4)
    limits = {M: ModelLimits(rpm=1200)}
    granted: list[float] = []
    guard = threading.Lock()
    stop = time.monotonic() + 1.5

    def work() -> None:
        connection = redis.Redis.from_url(redis_url)
        lim = SharedLimiter(connection, limits, prefix=prefix)
        while time.monotonic() < stop:
            result = lim.try_acquire("p", M, 0)
            if isinstance(result, Wait):
                time.sleep(result.retry_after_s)
                continue
            with guard:
                granted.append(result.granted_at)
        connection.close()

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    granted.sort()
    gaps = [b - a for a, b in itertools.pairwise(granted)]
    span = granted[-1] - granted[0]
    print(
        f"\n{len(granted)} grants in {span:.2f} s (pace 20/s: {span * 20 + 1:.0f} at most); "
        f"smallest gap {min(gaps) * 1000:.2f} ms"
    )
    assert len(granted) > 5 and min(gaps) >= 0.05 - 1e-6


def test_penalise_blocks_for_the_retry_delay_and_slows_the_pace_once_per_gap(
    client: redis.Redis,
) -> None:
    lim = limiter(client, ModelLimits(rpm=600), min_gap_s=5, recovery_s=600)  # 100 ms pace
    pace, blocked = lim.penalise("p", M, 0.2)
    assert pace == 0.5 and 0.19 < blocked <= 0.2
    assert lim.penalise("p", M, 0.1) == (
        pytest.approx(0.5, abs=0.001),
        pytest.approx(0.2, abs=0.02),
    )
    refused = wait(lim.try_acquire("p", M, 0))
    assert refused.reason == "retry_delay" and refused.retry_after_s <= 0.2
    time.sleep(refused.retry_after_s + 0.01)
    first = grant(lim.try_acquire("p", M, 0))
    assert first.pace == pytest.approx(0.5, abs=0.01)
    slowed = wait(lim.try_acquire("p", M, 0))
    assert slowed.reason == "rpm" and 0.1 < slowed.retry_after_s <= 0.2  # 200 ms pace now
    state = lim.state("p", M)
    assert state["pace"] == pytest.approx(0.5, abs=0.01) and state["blocked_for_s"] == 0.0


def test_pace_recovers_linearly_and_never_drops_below_the_floor(client: redis.Redis) -> None:
    lim = limiter(client, ModelLimits(rpm=60), min_gap_s=0, recovery_s=2, floor=0.2)
    paces = [lim.penalise("p", M, 0)[0] for _ in range(4)]
    assert paces[0] == pytest.approx(0.5, abs=0.01) and paces[-1] == pytest.approx(0.2, abs=0.01)
    time.sleep(1.0)  # recovery 2 s from 0 to 1: +0.5 in 1 s
    assert lim.state("p", M)["pace"] == pytest.approx(0.7, abs=0.1)


def test_a_429_from_the_emulator_through_the_sdk_tightens_the_limiter(
    client: redis.Redis,
) -> None:
    lim = limiter(client, ModelLimits(rpm=600))
    with EmulatorServer(rpm={M: 1}) as emu:
        sdk = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=emu.base_url))
        sdk.models.generate_content(model=M, contents="hi")
        with pytest.raises(errors.ClientError) as info:
            sdk.models.generate_content(model=M, contents="hi")
    delay = retry_delay_from_body(info.value.details)
    assert delay is not None and 1 <= delay <= 60
    lim.penalise("emulated-project", M, delay)
    refused = wait(lim.try_acquire("emulated-project", M, 0))
    assert refused.reason == "retry_delay" and delay - 1 < refused.retry_after_s <= delay


def test_bad_names_and_values_are_refused_with_the_reason(client: redis.Redis) -> None:
    lim = limiter(client, ModelLimits(rpm=6))
    with pytest.raises(ValueError, match=r"project name 'a\{b' is not usable"):
        lim.try_acquire("a{b", M, 0)
    with pytest.raises(ValueError, match="tokens must be >= 0"):
        lim.try_acquire("p", M, -1)
    with pytest.raises(ValueError, match="decrease and floor"):
        AdaptiveTuning(decrease=0)
