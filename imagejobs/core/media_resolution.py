"""Gemini's media resolution levels, and the spellings of a level that are accepted.

A level is set per image part (Gemini 3 and later) or for the whole request in
``generationConfig.mediaResolution``; ``ULTRA_HIGH`` exists per part only. What each level costs
is in :mod:`imagejobs.core.tokens`, which models accept which level in the model registry.
"""

from __future__ import annotations

MEDIA_RESOLUTIONS = ("LOW", "MEDIUM", "HIGH", "ULTRA_HIGH")  # per part
GLOBAL_MEDIA_RESOLUTIONS = ("LOW", "MEDIUM", "HIGH")  # generationConfig.mediaResolution
DEFAULT_MEDIA_RESOLUTION = "HIGH"


def normalise_media_resolution(value: str | None) -> str:
    """Accept ``HIGH``, ``high`` or ``MEDIA_RESOLUTION_HIGH``; None means the default."""
    if value is None or value == "" or value.upper() == "MEDIA_RESOLUTION_UNSPECIFIED":
        return DEFAULT_MEDIA_RESOLUTION
    level = value.upper().removeprefix("MEDIA_RESOLUTION_")
    if level not in MEDIA_RESOLUTIONS:
        allowed = ", ".join(MEDIA_RESOLUTIONS)
        raise ValueError(f"unknown media_resolution {value!r}; expected one of {allowed}")
    return level
