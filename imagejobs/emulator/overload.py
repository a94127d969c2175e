"""Overload windows: a model answers 503 UNAVAILABLE "The model is overloaded" for a while.

Set at run time through ``/_emulator/faults`` with ``{"overload": {"gemini-3.5-flash":
{"for_s": 60, "rate": 1.0}}}`` (``*`` for every model; ``rate`` the share of calls refused, 1.0
by default; ``for_s`` 0 or null ends a window). Overload answers carry no RetryInfo, as the
real ones do not; they come after the quota check, so a refused call has spent its quota.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imagejobs.emulator.quota import ALL_MODELS, check_model_key


@dataclass(frozen=True)
class OverloadWindow:
    until: float  # emulator clock
    rate: float


class Overloads:
    def __init__(self) -> None:
        self._windows: dict[str, OverloadWindow] = {}

    def parse(self, spec: Any, now: float) -> dict[str, OverloadWindow | None]:
        """Validate ``spec`` without applying it: model -> window (None ends the window)."""
        if not isinstance(spec, dict):
            raise ValueError('overload must be an object, e.g. {"gemini-3.5-flash": {"for_s": 60}}')
        changes: dict[str, OverloadWindow | None] = {}
        for name, entry in spec.items():
            where = f"overload.{name}"
            model = check_model_key(str(name), where)
            if isinstance(entry, int | float) and not isinstance(entry, bool):
                entry = {"for_s": entry}
            if entry is None:
                entry = {"for_s": 0}
            if not isinstance(entry, dict) or set(entry) - {"for_s", "rate"}:
                raise ValueError(f'{where} must be {{"for_s": <seconds>, "rate": <0..1>}}')
            for_s, rate = _number(entry.get("for_s"), where + ".for_s"), 1.0
            if "rate" in entry:
                rate = _number(entry["rate"], where + ".rate")
            if for_s < 0 or not 0.0 <= rate <= 1.0:
                raise ValueError(f"{where}: for_s must be >= 0 and rate between 0 and 1")
            changes[model] = OverloadWindow(now + for_s, rate) if for_s > 0 else None
        return changes

    def apply(self, changes: dict[str, OverloadWindow | None]) -> None:
        for model, window in changes.items():
            if window is None:
                self._windows.pop(model, None)
            else:
                self._windows[model] = window

    def rate(self, model: str, now: float) -> float:
        """The share of calls to ``model`` to refuse now (0 outside any window)."""
        rates = [
            window.rate
            for key in (model, ALL_MODELS)
            if (window := self._windows.get(key)) is not None and now < window.until
        ]
        return max(rates, default=0.0)

    def as_dict(self, now: float) -> dict[str, dict[str, float]]:
        return {
            model: {"for_s": round(window.until - now, 3), "rate": window.rate}
            for model, window in sorted(self._windows.items())
            if now < window.until
        }


def _number(raw: Any, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"{where} must be a number, got {raw!r}")
    return float(raw)
