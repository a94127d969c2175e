"""Generate calls by model and outcome, and what the last minute carried.

Outcomes: ``ok`` (200), ``429``, ``503`` and ``other`` (any other answer). The last-minute
figures are a sliding 60 s window over the emulator's clock: calls answered and the prompt
tokens of the admitted ones (what a tokens-per-minute quota counts).
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from imagejobs.emulator.quota import WINDOW_S

OUTCOMES = ("ok", "429", "503", "other")


def outcome_of(status_code: int) -> str:
    if status_code == 200:
        return "ok"
    return str(status_code) if status_code in (429, 503) else "other"


class CallStats:
    def __init__(self) -> None:
        self._outcomes: dict[str, Counter[str]] = {}
        self._recent: dict[str, deque[tuple[float, int]]] = {}  # model -> (time, tokens)

    def record(self, model: str, status_code: int, now: float, tokens: int = 0) -> None:
        """One answered call; ``tokens``: its prompt tokens if it was admitted (else 0)."""
        self._outcomes.setdefault(model, Counter())[outcome_of(status_code)] += 1
        self._recent.setdefault(model, deque()).append((now, tokens))

    def as_dict(self, now: float) -> dict[str, Any]:
        models: dict[str, Any] = {}
        total_calls = total_tokens = 0
        for model in sorted(self._outcomes):
            recent = self._recent[model]
            while recent and recent[0][0] <= now - WINDOW_S:
                recent.popleft()
            tokens = sum(t for _, t in recent)
            counts = self._outcomes[model]
            models[model] = {
                **{outcome: counts[outcome] for outcome in OUTCOMES},
                "calls_last_60s": len(recent),
                "input_tokens_last_60s": tokens,
            }
            total_calls += len(recent)
            total_tokens += tokens
        return {
            "by_model": models,
            "calls_per_minute": total_calls,
            "input_tokens_per_minute": total_tokens,
        }
