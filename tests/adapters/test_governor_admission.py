"""The quota gate on the run's own Redis: a call admitted with a slot reserved ahead does not go
out once its model's breaker opened while it waited for the slot (another worker's calls were
answered 503 meanwhile); its slot is given back and the next model of its chain answers."""

from __future__ import annotations

import pytest
import redis

from imagejobs.core.breaker_policy import BreakerPolicy
from imagejobs.core.governance_config import GovernanceConfig
from imagejobs.core.quota_limits import ModelLimits
from imagejobs.governance import SharedBreaker
from imagejobs.governance.governor import Deferred, Governor

MODEL = "gemini-3.8-flash"
FALLBACK = "gemini-2.5-flash-lite"


def opening_governor(client: redis.Redis) -> tuple[Governor, list[float]]:
    """A governor whose reserved waits see another worker open MODEL's breaker (one 503)."""
    client.flushdb()
    config = GovernanceConfig(
        quotas={MODEL: ModelLimits(rpm=60, max_concurrent=10)},  # one call a second
        wait_s=5.0,
        breaker=BreakerPolicy(failures_to_open=1, probe_interval_s=60),
    )
    elsewhere = SharedBreaker(client, config.breaker)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        elsewhere.record(config.project, MODEL, "overloaded")

    return Governor(config, client, sleep=sleep), slept


def test_a_call_reserved_ahead_is_deferred_once_the_breaker_opened(client: redis.Redis) -> None:
    governor, slept = opening_governor(client)
    first = governor.admit([MODEL], 100)  # the quota's slot now: no wait
    assert first.model == MODEL and not slept

    with pytest.raises(Deferred) as wait:
        governor.admit([MODEL], 100)  # the next slot is a second ahead: reserved, slept for

    assert slept and wait.value.reason == "breaker_open"
    assert governor.limiter is not None
    assert governor.limiter.state(governor.config.project, MODEL)["in_flight"] == 1  # given back


def test_a_call_reserved_ahead_goes_to_the_fallback_once_the_breaker_opened(
    client: redis.Redis,
) -> None:
    governor, slept = opening_governor(client)
    governor.admit([MODEL], 100)

    admission = governor.admit([MODEL, FALLBACK], 100)

    assert slept and admission.model == FALLBACK and not admission.probe
