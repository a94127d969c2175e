"""What a worker asks before it spends Gemini quota or a producer's money, and tells after.

One :class:`Governor` per process, on the governance Redis shared by the fleet (the broker's
Redis unless ``IMAGEJOBS_GOVERNANCE_REDIS_URL`` names another). Without Redis (the embedded
demo) every question is answered yes and nothing is counted.

* :meth:`Governor.admit`: the first model of the job's chain whose circuit breaker lets a call
  out and whose quota has a slot within ``IMAGEJOBS_QUOTA_WAIT_S``; the slot is reserved (calls
  go out in the order they asked) and the caller sleeps until it. No slot that soon, or every
  breaker open: :class:`Deferred` says how long, and the job waits in Postgres, not in a thread.
* :meth:`Governor.finished`: the slot back, the token bucket corrected with the billed prompt
  tokens, the breaker told how the call went; :meth:`Governor.throttled` after a 429.
* :meth:`Governor.reserve`: the job's cost quote reserved against the producer's budgets, or
  :class:`BudgetExceeded`; :meth:`Governor.settle` replaces it with the billed cost.

Redis unreachable: calls are deferred (never sent ungoverned), a budget is never bypassed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from imagejobs.core.breaker_policy import outcome_of_status
from imagejobs.core.budget import seconds_until_period_ends
from imagejobs.core.governance_config import GovernanceConfig
from imagejobs.core.quota_limits import limits_for
from imagejobs.gemini.errors import GeminiCallError
from imagejobs.governance import BudgetStore, Grant, Reservation, SharedBreaker, SharedLimiter
from imagejobs.observability.metrics import observe_breaker_state, observe_limiter_wait

log = logging.getLogger(__name__)

UNREACHABLE_DELAY_S = 5.0
DEFAULT_429_BLOCK_S = 5.0


class Deferred(Exception):
    """No call may go out for this job now; try again in ``delay_s`` (no attempt is used)."""

    def __init__(self, delay_s: float, reason: str, message: str) -> None:
        super().__init__(message)
        self.delay_s = delay_s
        self.reason = reason  # rpm | tpm | rpd | concurrency | retry_delay | breaker_open | ...
        self.message = message


class BudgetExceeded(Exception):
    """The producer's budget cannot cover the job's quote; ``wait_s``: until the period turns."""

    def __init__(self, message: str, wait_s: float) -> None:
        super().__init__(message)
        self.message = message
        self.wait_s = wait_s


@dataclass(frozen=True)
class Admission:
    """One call allowed out on ``model`` (``probe``: the fleet's probe of an open breaker)."""

    model: str
    grant: Grant | None = None
    probe: bool = False
    clean: bool = False  # the breaker was closed with no recent failures when admitted


def call_outcome(exc: GeminiCallError) -> str:
    """What a failed call tells the breaker (see ``breaker_policy.OUTCOMES``)."""
    if exc.status == "TIMEOUT":
        return "timeout"
    if exc.status == "CONNECTION":
        return "connection"
    if exc.code is None:
        return "neutral"
    return outcome_of_status(exc.code)


class Governor:
    def __init__(
        self,
        config: GovernanceConfig,
        client: redis.Redis | None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.client = client
        self.sleep = sleep
        self._quotas = dict(config.quotas)
        self.limiter = SharedLimiter(client, config.quotas) if client is not None else None
        self.breaker = SharedBreaker(client, config.breaker) if client is not None else None
        self.budgets = (
            BudgetStore(client, ttl_s=config.reservation_ttl_s, zone=config.budget_zone)
            if client is not None
            else None
        )

    @property
    def enabled(self) -> bool:
        return self.client is not None

    # Quota and breaker ----------------------------------------------------------------------

    def admit(self, models: Sequence[str], tokens: int) -> Admission:
        """The first of ``models`` that may take a call of ``tokens`` quoted input tokens now
        (after a short reserved wait, slept here); :class:`Deferred` when none can soon."""
        if self.limiter is None or self.breaker is None:
            return Admission(models[0])
        project = self.config.project
        waits: list[tuple[float, str, str]] = []
        try:
            for model in models:
                permit = self.breaker.allow(project, model)
                if not permit.allowed:
                    waits.append((permit.retry_after_s, "breaker_open", model))
                    continue
                if not self.is_limited(model):
                    return Admission(model, None, permit.probe, permit.clean)
                decision = self.limiter.try_acquire(
                    project, model, tokens, horizon_s=self.config.wait_s
                )
                if isinstance(decision, Grant):
                    if decision.start_in_s > 0:
                        observe_limiter_wait(
                            project, model, "reserved", "wait", decision.start_in_s
                        )
                        self.sleep(decision.start_in_s)
                        if not permit.probe:  # the breaker may have opened while it waited
                            permit = self.breaker.allow(project, model)
                            if not permit.allowed:
                                self.limiter.release(decision, 0)
                                waits.append((permit.retry_after_s, "breaker_open", model))
                                continue
                    return Admission(model, decision, permit.probe, permit.clean)
                if permit.probe:  # the probe slot is not used: let another worker probe
                    self.breaker.give_back_probe(project, model)
                waits.append((decision.retry_after_s, decision.reason, model))
        except redis.RedisError as exc:
            raise Deferred(
                UNREACHABLE_DELAY_S,
                "governance_unreachable",
                f"quota governance (Redis) unreachable: {type(exc).__name__}",
            ) from None
        delay, reason, model = min(waits)
        if reason != "breaker_open":
            observe_limiter_wait(project, model, reason, "park", delay)
        names = ", ".join(models)
        raise Deferred(delay, reason, f"no call can go out on {names} now ({model}: {reason})")

    def finished(
        self, admission: Admission, *, billed_prompt_tokens: int | None, outcome: str
    ) -> None:
        """The call ended with ``outcome`` (see ``breaker_policy.OUTCOMES``)."""
        if self.breaker is None:
            return
        try:
            if admission.grant is not None and self.limiter is not None:
                self.limiter.release(admission.grant, billed_prompt_tokens)
            if outcome == "success" and admission.clean:
                return  # the hot path: a success on a clean closed breaker changes nothing
            state = self.breaker.record(
                self.config.project, admission.model, outcome, probe=admission.probe
            )
            observe_breaker_state(self.config.project, admission.model, state)
            if state != "closed" or admission.probe:
                log.info(
                    "breaker %s/%s: %s after %s",
                    self.config.project,
                    admission.model,
                    state,
                    outcome,
                )
        except redis.RedisError as exc:
            log.warning("quota governance: could not record a call (%s)", type(exc).__name__)

    def throttled(self, model: str, retry_after_s: float | None) -> None:
        """A 429 got through: block the model for its retryDelay and slow the fleet's pace."""
        if self.limiter is None:
            return
        try:
            self.limiter.penalise(self.config.project, model, retry_after_s or DEFAULT_429_BLOCK_S)
        except redis.RedisError as exc:
            log.warning("quota governance: could not record a 429 (%s)", type(exc).__name__)

    def is_limited(self, model: str) -> bool:
        return limits_for(model, self._quotas) is not None

    def health(self) -> dict[str, Any]:
        """What /healthz shows: breakers not plainly closed, and each quota'd model's state."""
        if self.limiter is None or self.breaker is None:
            return {"status": "off"}
        try:
            return {
                "status": "ok",
                "project": self.config.project,
                "breakers": self.breaker.snapshot(),
                "quotas": [
                    self.limiter.state(self.config.project, model)
                    for model in self._quotas
                    if model != "*"
                ],
            }
        except redis.RedisError as exc:
            return {"status": f"unreachable ({type(exc).__name__})"}

    # Budgets --------------------------------------------------------------------------------

    def reserve(self, producer: str, reservation_id: str, quote_nanos: int) -> Reservation | None:
        """Reserve the quote against ``producer``'s budgets (None: it has none)."""
        limits = self.config.budget_for(producer)
        if limits is None:
            return None
        if self.budgets is None:
            raise Deferred(
                UNREACHABLE_DELAY_S,
                "governance_unreachable",
                f"producer {producer!r} has a budget but no governance Redis is configured",
            )
        try:
            reply = self.budgets.reserve(producer, quote_nanos, limits, reservation_id)
        except redis.RedisError as exc:
            raise Deferred(
                UNREACHABLE_DELAY_S,
                "governance_unreachable",
                f"budget store (Redis) unreachable: {type(exc).__name__}",
            ) from None
        if isinstance(reply, Reservation):
            return reply
        wait_s = seconds_until_period_ends(reply.period, time.time(), self.config.budget_zone)
        raise BudgetExceeded(reply.message(producer), wait_s)

    def settle(self, reservation: Reservation | None, billed_nanos: int | None) -> None:
        if reservation is None or self.budgets is None:
            return
        try:
            if billed_nanos is None:
                self.budgets.release(reservation)
            else:
                self.budgets.settle(reservation, billed_nanos)
        except redis.RedisError as exc:  # the reservation expires by itself
            log.warning(
                "budget: could not settle %s (%s)", reservation.reservation_id, type(exc).__name__
            )
