"""Emulator configuration and the run-time fault settings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from imagejobs.emulator.quota import METRICS, QuotaLimits

FILE_TTL_S = 48 * 3600
UPLOAD_CHUNK_GRANULARITY = 8 * 1024 * 1024


@dataclass
class Faults:
    """What goes wrong, changeable at run time through ``/_emulator/faults``.

    Rates are probabilities per call (1.0 = every call, 0 = never) drawn from a generator seeded
    with ``seed``, so a run is reproducible. ``fail_next_n`` fails exactly the next N
    generate/stream calls with ``fail_next_code``, before any scripted response.
    """

    latency_s: float = 0.0
    jitter_s: float = 0.0
    rate_429: float = 0.0
    retry_delay_s: float = 1.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    upload_failure_rate: float = 0.0
    file_stuck_processing: bool = False
    file_failed_rate: float = 0.0
    processing_delay_s: float = 0.0
    fail_next_n: int = 0
    fail_next_code: int = 429
    seg_token_rate: float = 0.0  # share of PNG-mask answers given as <seg_N> tokens instead
    seed: int = 0

    def updated(self, changes: dict[str, Any]) -> Faults:
        """A copy with ``changes`` applied; unknown names and bad values raise ValueError."""
        known = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown fault field(s) {unknown}; known: {sorted(known)}")
        values = dataclasses.asdict(self)
        for name, raw in changes.items():
            values[name] = _coerce(name, known[name].type, raw)
        result = Faults(**values)
        result.validate()
        return result

    def validate(self) -> None:
        rates = ("rate_429", "rate_500", "rate_503", "upload_failure_rate", "file_failed_rate")
        for name in (*rates, "seg_token_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault {name} must be between 0 and 1, got {value}")
        for name in ("latency_s", "jitter_s", "retry_delay_s", "processing_delay_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"fault {name} must be >= 0, got {getattr(self, name)}")
        if self.fail_next_n < 0:
            raise ValueError(f"fault fail_next_n must be >= 0, got {self.fail_next_n}")
        if not 400 <= self.fail_next_code <= 599:
            raise ValueError(
                f"fault fail_next_code must be an HTTP error code, got {self.fail_next_code}"
            )

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class EmulatorConfig:
    """Static settings of one emulator instance (faults can change later at run time)."""

    inline_limit_bytes: int = 20_000_000
    max_images: int = 3600
    processing_delay_s: float = 0.0
    api_key: str | None = None  # None: any non-empty key is accepted
    faults: Faults = field(default_factory=Faults)
    quotas: QuotaLimits = field(default_factory=QuotaLimits)  # changeable at run time too

    def __post_init__(self) -> None:
        if self.inline_limit_bytes <= 0:
            raise ValueError(f"inline_limit_bytes must be > 0, got {self.inline_limit_bytes}")
        if self.max_images <= 0:
            raise ValueError(f"max_images must be > 0, got {self.max_images}")
        if self.processing_delay_s < 0:
            raise ValueError(f"processing_delay_s must be >= 0, got {self.processing_delay_s}")
        if self.processing_delay_s and not self.faults.processing_delay_s:
            self.faults = dataclasses.replace(
                self.faults, processing_delay_s=self.processing_delay_s
            )
        self.faults.validate()

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> EmulatorConfig:
        """Build from flat keyword arguments: config fields, fault fields and quota fields
        (``rpm``, ``tpm``, ``rpd``: a number for every model or a map by model;
        ``quota_tier``) mixed."""
        config_names = {f.name for f in dataclasses.fields(cls)} - {"faults", "quotas"}
        quota_names = {*METRICS, "quota_tier"}
        config_args = {k: v for k, v in kwargs.items() if k in config_names}
        quota_args = {k.removeprefix("quota_"): v for k, v in kwargs.items() if k in quota_names}
        fault_args = {
            k: v
            for k, v in kwargs.items()
            if k not in config_names and k not in quota_names and k not in ("faults", "quotas")
        }
        base = kwargs.get("faults") or Faults()
        quotas = (kwargs.get("quotas") or QuotaLimits()).updated(quota_args)
        return cls(**config_args, faults=base.updated(fault_args), quotas=quotas)


def _coerce(name: str, annotation: Any, raw: Any) -> Any:
    kind = str(annotation)
    try:
        if kind == "bool":
            if isinstance(raw, str):
                if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(raw)
                return raw.lower() in ("true", "1", "yes")
            return bool(raw)
        if kind == "int":
            if isinstance(raw, bool) or float(raw) != int(float(raw)):
                raise ValueError(raw)
            return int(float(raw))
        if isinstance(raw, bool):
            raise ValueError(raw)
        return float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"fault {name} must be a {kind}, got {raw!r}") from None
