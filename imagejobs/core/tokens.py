"""Gemini's documented image token rule, by model family.

This module is the single source of the rule: the emulator bills with it and the worker quotes
with it. It only does arithmetic on image sizes, so it never needs the pixels.

* Gemini 1.x / 2.x: 258 tokens when both sides are <= 384 px; otherwise the image is cut into
  square crops of ``unit = clamp(floor(min(w, h) / 1.5), 256, 768)`` px and every crop costs 258
  tokens (the docs' example: 960x540 -> unit 360 -> 3 x 2 tiles -> 1,548 tokens).
  With a global ``generationConfig.mediaResolution`` the 2.x cost is flat instead: LOW 64,
  MEDIUM 256, HIGH 256 ("zoomed reframing with 256 tokens", google-genai's MediaResolution).
  2.x has no per-part resolution: a per-part level is ignored (imagejobs never sends one).
* Gemini 3 and later: a flat budget per image chosen by ``media_resolution``, per part first,
  else the global level, else HIGH: LOW 280, MEDIUM 560, HIGH 1,120, ULTRA_HIGH 2,240 (per part
  only).

Which rule applies comes from the model registry (``imagejobs.core.models``); ids it does not
know use the generation in their name (3 and later: media resolution; else tiles).

Real ``countTokens`` and billed usage often disagree with this rule (see the recorded outputs in
tests/fixtures); it is an estimate that the pipeline stores next to the billed usage.
"""

from __future__ import annotations

import math
import re

from imagejobs.core.media_resolution import DEFAULT_MEDIA_RESOLUTION, normalise_media_resolution
from imagejobs.core.models import UnknownModel, model_info

TOKENS_PER_TILE = 258
SMALL_IMAGE_SIDE = 384
MIN_CROP_UNIT = 256
MAX_CROP_UNIT = 768

MEDIA_RESOLUTION_TOKENS: dict[str, int] = {
    "LOW": 280,
    "MEDIUM": 560,
    "HIGH": 1120,
    "ULTRA_HIGH": 2240,
}
GLOBAL_2X_TOKENS: dict[str, int] = {"LOW": 64, "MEDIUM": 256, "HIGH": 256}

_FAMILY_RE = re.compile(r"gemini-(\d+)(?:\.(\d+))?")


def model_generation(model: str) -> int | None:
    """The major Gemini generation named by a model id (``models/gemini-2.5-flash`` -> 2)."""
    match = _FAMILY_RE.search(model.lower())
    return int(match.group(1)) if match else None


def token_rule(model: str) -> str:
    """``"tiles"`` or ``"media_resolution"``: the registry's rule, else the name's generation."""
    try:
        return model_info(model).family.token_rule
    except UnknownModel:
        generation = model_generation(model)
        return "media_resolution" if generation is not None and generation >= 3 else "tiles"


def uses_media_resolution(model: str) -> bool:
    """True for model families billed by ``media_resolution`` (Gemini 3 and later)."""
    return token_rule(model) == "media_resolution"


def crop_unit(width: int, height: int) -> int:
    """Side of the square crop the tile rule cuts an image into."""
    return min(max(math.floor(min(width, height) / 1.5), MIN_CROP_UNIT), MAX_CROP_UNIT)


def tile_count(width: int, height: int) -> int:
    """Number of 258-token tiles the 1.x/2.x rule charges for an image."""
    _check_size(width, height)
    if width <= SMALL_IMAGE_SIDE and height <= SMALL_IMAGE_SIDE:
        return 1
    unit = crop_unit(width, height)
    return math.ceil(width / unit) * math.ceil(height / unit)


def image_tokens(
    model: str,
    width: int,
    height: int,
    media_resolution: str | None = None,
    *,
    global_resolution: str | None = None,
) -> int:
    """Estimated prompt tokens of one image of ``width`` x ``height`` sent to ``model``.

    ``media_resolution`` is the image part's own level, ``global_resolution`` the request's
    ``generationConfig.mediaResolution``; either may be None.
    """
    _check_size(width, height)
    overall = _level_or_none(global_resolution)
    if overall == "ULTRA_HIGH":
        raise ValueError("media_resolution ULTRA_HIGH can only be set per part, not globally")
    if uses_media_resolution(model):
        part = _level_or_none(media_resolution)
        return MEDIA_RESOLUTION_TOKENS[part or overall or DEFAULT_MEDIA_RESOLUTION]
    if overall is not None:
        return GLOBAL_2X_TOKENS[overall]
    return TOKENS_PER_TILE * tile_count(width, height)


def _level_or_none(value: str | None) -> str | None:
    if value is None or value == "" or value.upper() == "MEDIA_RESOLUTION_UNSPECIFIED":
        return None
    return normalise_media_resolution(value)


def text_tokens(text: str) -> int:
    """Rough text token count (about four characters a token), as Gemini's docs suggest."""
    return math.ceil(len(text) / 4) if text else 0


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
