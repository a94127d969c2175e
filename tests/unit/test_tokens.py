"""The documented image token rule (core/tokens.py)."""

from __future__ import annotations

import pytest

from imagejobs.core.media_resolution import normalise_media_resolution
from imagejobs.core.tokens import (
    crop_unit,
    image_tokens,
    model_generation,
    text_tokens,
    tile_count,
    token_rule,
    uses_media_resolution,
)


def test_docs_example_960x540() -> None:
    assert crop_unit(960, 540) == 360
    assert tile_count(960, 540) == 6
    assert image_tokens("gemini-2.5-flash", 960, 540) == 1548


@pytest.mark.parametrize("size", [(1, 1), (384, 384), (100, 384), (384, 10)])
def test_small_images_cost_one_tile(size: tuple[int, int]) -> None:
    assert image_tokens("gemini-2.0-flash", *size) == 258


def test_just_over_small_side() -> None:
    # 385x385: unit = clamp(floor(385/1.5)=256) -> ceil(385/256)^2 = 4 tiles
    assert image_tokens("gemini-2.5-flash", 385, 385) == 4 * 258


@pytest.mark.parametrize(
    ("size", "unit"),
    [((400, 300), 256), ((10000, 300), 256), ((1152, 1152), 768), ((4000, 3000), 768)],
)
def test_crop_unit_clamped(size: tuple[int, int], unit: int) -> None:
    assert crop_unit(*size) == unit


def test_large_image_tiles() -> None:
    # 4000x3000: unit 768 -> 6 x 4 tiles
    assert image_tokens("models/gemini-2.5-pro", 4000, 3000) == 24 * 258


@pytest.mark.parametrize(
    ("level", "tokens"),
    [
        (None, 1120),
        ("LOW", 280),
        ("medium", 560),
        ("MEDIA_RESOLUTION_HIGH", 1120),
        ("ULTRA_HIGH", 2240),
        ("MEDIA_RESOLUTION_UNSPECIFIED", 1120),
    ],
)
def test_gemini3_flat_levels(level: str | None, tokens: int) -> None:
    for size in [(64, 64), (4000, 3000)]:
        assert image_tokens("gemini-3-flash-preview", *size, media_resolution=level) == tokens


def test_generation_detection() -> None:
    assert model_generation("models/gemini-2.5-flash") == 2
    assert model_generation("gemini-3.5-flash-lite") == 3
    assert model_generation("imagen-4") is None
    assert uses_media_resolution("gemini-3-pro-preview")
    assert not uses_media_resolution("gemini-2.5-pro")


def test_bad_values() -> None:
    with pytest.raises(ValueError, match="unknown media_resolution"):
        normalise_media_resolution("huge")
    with pytest.raises(ValueError, match="positive"):
        image_tokens("gemini-2.5-flash", 0, 10)


def test_text_tokens() -> None:
    assert text_tokens("") == 0
    assert text_tokens("abcde") == 2


def test_rule_comes_from_the_registry_then_the_name() -> None:
    assert token_rule("gemini-3.5-flash") == "media_resolution"
    assert token_rule("gemini-2.5-flash-preview-09-2025") == "tiles"
    assert token_rule("gemini-robotics-er-1.5-preview") == "tiles"  # built on 2.5 Flash
    assert token_rule("gemini-robotics-er-2-preview") == "media_resolution"  # on 3.5 Flash
    # Unknown ids keep working by the generation in their name.
    assert token_rule("models/gemini-pro-vision") == "tiles"
    assert token_rule("gemini-4-hydrogen") == "media_resolution"


def test_gemini3_part_level_wins_over_global() -> None:
    model = "gemini-3.5-flash"
    assert image_tokens(model, 640, 480, "LOW", global_resolution="HIGH") == 280
    assert image_tokens(model, 640, 480, None, global_resolution="MEDIA_RESOLUTION_MEDIUM") == 560
    assert image_tokens(model, 640, 480, "ULTRA_HIGH", global_resolution="LOW") == 2240
    with pytest.raises(ValueError, match="per part"):
        image_tokens(model, 640, 480, None, global_resolution="ULTRA_HIGH")


def test_gemini2_global_level_is_flat_and_part_level_is_ignored() -> None:
    model = "gemini-2.5-flash"
    assert image_tokens(model, 960, 540, global_resolution="LOW") == 64
    assert image_tokens(model, 960, 540, global_resolution="MEDIUM") == 256
    assert image_tokens(model, 960, 540, global_resolution="HIGH") == 256
    assert image_tokens(model, 960, 540, "LOW") == 1548  # no per-part level on 2.x
    assert image_tokens(model, 960, 540, global_resolution="MEDIA_RESOLUTION_UNSPECIFIED") == 1548
