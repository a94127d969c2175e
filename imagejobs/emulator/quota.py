"""Per-project, per-model quotas: requests per minute, input tokens per minute, requests per day.

Real Gemini counts quota per Google Cloud project and model; the emulator takes each API key as
one project. A request is admitted or refused before any latency or fault applies; an admitted
request counts whatever happens to it afterwards (an injected 503 still spent quota).

* ``rpm`` and ``tpm`` are sliding 60 s windows over admitted requests (``tpm`` counts prompt
  tokens, text and images, by the same rule as ``usageMetadata``);
* ``rpd`` resets at midnight Pacific time, as Gemini's daily quotas do.

A refusal lists every metric that is over (as real 429s list several violations) and waits
until all of them free: ``retry_after_s`` is how long until the request would be admitted. A
request whose own tokens exceed ``tpm`` can never fit; it is refused with the window's length.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from imagejobs.core.models import UnknownModel, model_info, normalise_name
from imagejobs.core.quota_limits import ALL_MODELS, pacific_day
from imagejobs.core.quota_limits import QUOTA_WINDOW_S as WINDOW_S
from imagejobs.emulator.wire import RpcError, quota_details, quota_message, quota_violation

METRICS = ("rpm", "tpm", "rpd")
TIERS = ("free", "paid")

# (quotaMetric, quotaId) per tier and metric. Free-tier names as seen in real 429 bodies
# (python-genai#1875 and the answers quoted in gemini-wire.md section 3); paid-tier token names
# as seen in real answers (generate_content_paid_tier_input_token_count /
# GenerateContentPaidTierInputTokensPerModelPerMinute); paid-tier request names follow the same
# pattern and are UNVERIFIED.
_PREFIX = "generativelanguage.googleapis.com/"
QUOTA_NAMES: dict[str, dict[str, tuple[str, str]]] = {
    "free": {
        "rpm": (
            _PREFIX + "generate_content_free_tier_requests",
            "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
        ),
        "tpm": (
            _PREFIX + "generate_content_free_tier_input_token_count",
            "GenerateContentInputTokensPerModelPerMinute-FreeTier",
        ),
        "rpd": (
            _PREFIX + "generate_content_free_tier_requests",
            "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
        ),
    },
    "paid": {
        "rpm": (
            _PREFIX + "generate_content_paid_tier_requests",
            "GenerateRequestsPerMinutePerProjectPerModel",
        ),
        "tpm": (
            _PREFIX + "generate_content_paid_tier_input_token_count",
            "GenerateContentPaidTierInputTokensPerModelPerMinute",
        ),
        "rpd": (
            _PREFIX + "generate_content_paid_tier_requests",
            "GenerateRequestsPerDayPerProjectPerModel",
        ),
    },
}


def project_for_key(api_key: str) -> str:
    """The emulator's name for the project of ``api_key`` (a hash: keys are never shown)."""
    return "project-" + hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:10]


def check_model_key(name: str, where: str) -> str:
    """``*`` or a served model id (normalised); anything else raises ValueError naming it."""
    if name == ALL_MODELS:
        return name
    model = normalise_name(name)
    try:
        info = model_info(model)
    except UnknownModel as exc:
        raise ValueError(f"{where}: {exc}") from None
    if info.match == "pattern":
        raise ValueError(f"{where}: model {name!r} is not served by the emulator")
    return model


def parse_limit_flags(metric: str, values: list[str]) -> dict[str, int]:
    """``["600", "gemini-2.5-pro=150"]`` -> ``{"*": 600, "gemini-2.5-pro": 150}``."""
    limits: dict[str, int] = {}
    for value in values:
        model, sep, number = value.rpartition("=")
        key = check_model_key(model, f"--{metric} {value}") if sep else ALL_MODELS
        limits[key] = _limit_value(metric, number, f"--{metric} {value}")
    return limits


def _limit_value(metric: str, raw: Any, where: str) -> int:
    try:
        if isinstance(raw, bool) or float(raw) != int(float(raw)):
            raise ValueError(raw)
        value = int(float(raw))
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {metric} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{where}: {metric} must be >= 1, got {value}")
    return value


@dataclass(frozen=True)
class QuotaLimits:
    """Limits per metric: model id (or ``*`` for every model) -> limit. Empty: no quota."""

    rpm: dict[str, int] = field(default_factory=dict)
    tpm: dict[str, int] = field(default_factory=dict)
    rpd: dict[str, int] = field(default_factory=dict)
    tier: str = "free"

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise ValueError(f"quota tier must be one of {list(TIERS)}, got {self.tier!r}")

    def limit(self, metric: str, model: str) -> int | None:
        limits: dict[str, int] = getattr(self, metric)
        return limits.get(model, limits.get(ALL_MODELS))

    def updated(self, changes: dict[str, Any]) -> QuotaLimits:
        """A copy with ``changes`` applied: each named metric is replaced as a whole (a number
        applies to every model, a map names models, null clears it); bad input raises
        ValueError naming what was wrong."""
        unknown = sorted(set(changes) - {*METRICS, "tier"})
        if unknown:
            raise ValueError(f"unknown quota field(s) {unknown}; known: {[*METRICS, 'tier']}")
        values: dict[str, Any] = {name: getattr(self, name) for name in (*METRICS, "tier")}
        for metric in METRICS:
            if metric in changes:
                values[metric] = _limits_from(metric, changes[metric])
        if "tier" in changes:
            values["tier"] = changes["tier"]
        return QuotaLimits(**values)

    def as_dict(self) -> dict[str, Any]:
        return {**{m: dict(getattr(self, m)) for m in METRICS}, "tier": self.tier}


def _limits_from(metric: str, raw: Any) -> dict[str, int]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        return {ALL_MODELS: _limit_value(metric, raw, f"quota {metric}")}
    limits = {}
    for name, value in raw.items():
        where = f"quota {metric}.{name}"
        limits[check_model_key(str(name), where)] = _limit_value(metric, value, where)
    return limits


@dataclass(frozen=True)
class Violation:
    metric: str  # rpm | tpm | rpd
    limit: int
    retry_after_s: float


@dataclass(frozen=True)
class QuotaRefusal:
    """Why a request was refused: every metric over its limit, and when it would fit."""

    model: str
    violations: tuple[Violation, ...]

    @property
    def retry_after_s(self) -> float:
        return max(v.retry_after_s for v in self.violations)


@dataclass
class _Window:
    """Admitted requests of the last minute (time, tokens) and today's count."""

    entries: deque[tuple[float, int]] = field(default_factory=deque)
    tokens: int = 0
    day: str = ""
    day_count: int = 0

    def prune(self, now: float) -> None:
        while self.entries and self.entries[0][0] <= now - WINDOW_S:
            _, tokens = self.entries.popleft()
            self.tokens -= tokens


class QuotaLedger:
    """Counts admitted requests per (project, model) and refuses those over the limits."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], _Window] = {}

    def admit(
        self, limits: QuotaLimits, project: str, model: str, tokens: int, now: float
    ) -> QuotaRefusal | None:
        """Count the request and return None, or return why it is refused (nothing counted)."""
        window = self._windows.setdefault((project, model), _Window())
        window.prune(now)
        day, until_midnight = pacific_day(now)
        if window.day != day:
            window.day, window.day_count = day, 0
        violations = []
        rpm = limits.limit("rpm", model)
        if rpm is not None and len(window.entries) + 1 > rpm:
            oldest_to_go = window.entries[len(window.entries) - rpm][0]
            violations.append(Violation("rpm", rpm, oldest_to_go + WINDOW_S - now))
        tpm = limits.limit("tpm", model)
        if tpm is not None and window.tokens + tokens > tpm:
            violations.append(Violation("tpm", tpm, _tokens_free_after(window, tokens, tpm, now)))
        rpd = limits.limit("rpd", model)
        if rpd is not None and window.day_count + 1 > rpd:
            violations.append(Violation("rpd", rpd, until_midnight))
        if violations:
            return QuotaRefusal(model, tuple(violations))
        window.entries.append((now, tokens))
        window.tokens += tokens
        window.day_count += 1
        return None

    def usage(self, now: float) -> list[dict[str, Any]]:
        """Per (project, model): requests and input tokens in the last minute, requests today."""
        rows = []
        day, _ = pacific_day(now)
        for (project, model), window in sorted(self._windows.items()):
            window.prune(now)
            rows.append(
                {
                    "project": project,
                    "model": model,
                    "requests_last_60s": len(window.entries),
                    "input_tokens_last_60s": window.tokens,
                    "requests_today": window.day_count if window.day == day else 0,
                }
            )
        return rows


def _tokens_free_after(window: _Window, tokens: int, tpm: int, now: float) -> float:
    if tokens > tpm:
        return WINDOW_S  # never fits; the real API keeps refusing such a request
    remaining = window.tokens
    for when, spent in window.entries:
        remaining -= spent
        if remaining + tokens <= tpm:
            return when + WINDOW_S - now
    return 0.0  # not reached: the window empties before that


def retry_delay(seconds: float) -> str:
    """A ``retryDelay`` in whole seconds, rounded up (at least 1 s), e.g. ``"17s"``."""
    return f"{max(1, math.ceil(seconds - 1e-9))}s"


def quota_error(refusal: QuotaRefusal, tier: str) -> RpcError:
    """The 429 RESOURCE_EXHAUSTED a refusal answers: one QuotaFailure violation per metric
    over its limit (named as the real API names it), Help, and RetryInfo until all free."""
    violations = []
    for violation in refusal.violations:
        metric, quota_id = QUOTA_NAMES[tier][violation.metric]
        violations.append(quota_violation(metric, quota_id, refusal.model, str(violation.limit)))
    delay = retry_delay(refusal.retry_after_s)
    return RpcError(429, quota_message(violations, delay), details=quota_details(violations, delay))
