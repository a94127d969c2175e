"""Gemini's thinking levels (google-genai ``ThinkingLevel``), as job options and the registry name
them. A leaf module: the job spec and the model registry both read it."""

from __future__ import annotations

THINKING_LEVELS = ("MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH")  # google-genai ThinkingLevel


def normalise_level(value: str) -> str:
    """``low`` / ``LOW`` / ``THINKING_LEVEL_LOW`` -> ``LOW``; ValueError for other words."""
    level = value.strip().upper().removeprefix("THINKING_LEVEL_")
    if level not in THINKING_LEVELS:
        raise ValueError(f"unknown thinking_level {value!r}; expected one of {THINKING_LEVELS}")
    return level
