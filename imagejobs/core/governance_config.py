"""The quota-governance settings, parsed and checked once: quotas per model, the breaker policy,
fallback chains per task, budgets, fair-share weights and limits per producer, the cache TTL.

Settings give plain JSON (``IMAGEJOBS_QUOTAS='{"gemini-2.5-flash": {"rpm": 1000}}'``); this
module turns it into the pure policy objects the limiter, breaker, budget store and scheduler
take, and every mistake is a ValueError naming the setting and the entry. Names are matched the
way the models registry matches them (lower case, no ``models/``); ``"*"`` is the entry for
every model or producer not named.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from imagejobs.core.breaker_policy import BreakerPolicy
from imagejobs.core.budget import BudgetLimits
from imagejobs.core.jobspec import TASKS
from imagejobs.core.models import UnknownModel, model_info
from imagejobs.core.quota_limits import ALL_MODELS, ModelLimits

ANY_PRODUCER = "*"


@dataclass(frozen=True)
class ProducerLimits:
    """A producer's own caps on top of its fair share (None: no cap)."""

    max_running: int | None = None
    rate_per_min: float | None = None


@dataclass(frozen=True)
class GovernanceConfig:
    project: str = "default"
    quotas: Mapping[str, ModelLimits] = field(default_factory=dict)
    wait_s: float = 2.0
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    budgets: Mapping[str, BudgetLimits] = field(default_factory=dict)
    budget_zone: tzinfo = field(default_factory=lambda: ZoneInfo("UTC"))
    reservation_ttl_s: float = 900.0
    weights: Mapping[str, float] = field(default_factory=dict)
    producer_limits: Mapping[str, ProducerLimits] = field(default_factory=dict)
    cache_ttl_s: float = 86_400.0

    def budget_for(self, producer: str) -> BudgetLimits | None:
        limits = self.budgets.get(producer, self.budgets.get(ANY_PRODUCER))
        if limits is None or (limits.daily_usd is None and limits.monthly_usd is None):
            return None
        return limits

    def weight_for(self, producer: str) -> float:
        return float(self.weights.get(producer, self.weights.get(ANY_PRODUCER, 1.0)))

    def limits_of(self, producer: str) -> ProducerLimits:
        return self.producer_limits.get(
            producer, self.producer_limits.get(ANY_PRODUCER, ProducerLimits())
        )

    def fallback_chain(self, task: str) -> tuple[str, ...]:
        return self.fallbacks.get(task, ())


def _model_name(name: str) -> str:
    return name.strip().lower().removeprefix("models/")


def parse_quotas(raw: Mapping[str, Any]) -> dict[str, ModelLimits]:
    quotas = {}
    for model, entry in raw.items():
        where = f"IMAGEJOBS_QUOTAS[{model!r}]"
        if not isinstance(entry, dict):
            raise ValueError(f'{where}: must be an object such as {{"rpm": 1000}}')
        key = model if model == ALL_MODELS else _model_name(model)
        quotas[key] = ModelLimits.from_dict(entry, where)
    return quotas


def parse_breaker(raw: Mapping[str, Any]) -> BreakerPolicy:
    known = set(BreakerPolicy.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"IMAGEJOBS_BREAKER: unknown field(s) {unknown}; known: {sorted(known)}")
    values = dict(raw)
    if "trips_on" in values:
        values["trips_on"] = frozenset(values["trips_on"])
    try:
        return BreakerPolicy(**values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"IMAGEJOBS_BREAKER: {exc}") from None


def check_fallback(task: str, model: str, where: str) -> str:
    """The registry's name for ``model`` if it can do ``task``; else ValueError naming ``where``."""
    try:
        info = model_info(model)
    except UnknownModel as exc:
        raise ValueError(f"{where}: {exc}") from None
    if task not in info.family.tasks:
        raise ValueError(f"{where}: {info.name} cannot do {task} jobs")
    return info.name


def parse_fallbacks(raw: Mapping[str, list[str]]) -> dict[str, tuple[str, ...]]:
    chains = {}
    for task, models in raw.items():
        if task not in TASKS:
            raise ValueError(f"IMAGEJOBS_FALLBACK_MODELS: unknown task {task!r}; tasks: {TASKS}")
        where = f"IMAGEJOBS_FALLBACK_MODELS[{task!r}]"
        chains[task] = tuple(
            check_fallback(task, model, f"{where}[{index}]") for index, model in enumerate(models)
        )
    return chains


def parse_budgets(raw: Mapping[str, Any]) -> dict[str, BudgetLimits]:
    budgets = {}
    for producer, entry in raw.items():
        where = f"IMAGEJOBS_BUDGETS[{producer!r}]"
        if not isinstance(entry, dict):
            raise ValueError(f'{where}: must be an object such as {{"daily_usd": 5}}')
        budgets[producer] = BudgetLimits.from_dict(entry, where)
    return budgets


def parse_producer_limits(raw: Mapping[str, Any]) -> dict[str, ProducerLimits]:
    limits = {}
    for producer, entry in raw.items():
        where = f"IMAGEJOBS_PRODUCER_LIMITS[{producer!r}]"
        if not isinstance(entry, dict) or set(entry) - {"max_running", "rate_per_min"}:
            raise ValueError(f"{where}: must be an object of max_running and/or rate_per_min")
        running, rate = entry.get("max_running"), entry.get("rate_per_min")
        if running is not None and (not isinstance(running, int) or running < 1):
            raise ValueError(f"{where}.max_running: must be a whole number >= 1")
        if rate is not None and (not isinstance(rate, int | float) or rate <= 0):
            raise ValueError(f"{where}.rate_per_min: must be > 0")
        limits[producer] = ProducerLimits(running, None if rate is None else float(rate))
    return limits


def parse_weights(raw: Mapping[str, Any]) -> dict[str, float]:
    for producer, weight in raw.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            raise ValueError(f"IMAGEJOBS_PRODUCER_WEIGHTS[{producer!r}]: must be a number > 0")
    return {producer: float(weight) for producer, weight in raw.items()}


def parse_zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"IMAGEJOBS_BUDGET_TIMEZONE: unknown time zone {name!r}") from None


class GovernanceSettings(Protocol):
    """The attributes of ``imagejobs.settings.Settings`` read here (a structural type)."""

    gemini_project: str
    quotas: dict[str, dict[str, Any]]
    quota_wait_s: float
    breaker: dict[str, Any]
    fallback_models: dict[str, list[str]]
    budgets: dict[str, dict[str, Any]]
    budget_timezone: str
    budget_reservation_ttl_s: float
    producer_weights: dict[str, float]
    producer_limits: dict[str, dict[str, Any]]
    result_cache_ttl_s: float


def governance_config(settings: GovernanceSettings) -> GovernanceConfig:
    """Parse and check the governance settings; ValueError names the first mistake."""
    return GovernanceConfig(
        project=settings.gemini_project,
        quotas=parse_quotas(settings.quotas),
        wait_s=settings.quota_wait_s,
        breaker=parse_breaker(settings.breaker),
        fallbacks=parse_fallbacks(settings.fallback_models),
        budgets=parse_budgets(settings.budgets),
        budget_zone=parse_zone(settings.budget_timezone),
        reservation_ttl_s=settings.budget_reservation_ttl_s,
        weights=parse_weights(settings.producer_weights),
        producer_limits=parse_producer_limits(settings.producer_limits),
        cache_ttl_s=settings.result_cache_ttl_s,
    )
