"""Mask decoding: PNG probability maps, polygons, seg tokens, and the cookbook reference."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from imagejobs.core.geometry import PixelBox
from imagejobs.core.masks import (
    DecodedMask,
    MaskProblem,
    decode_mask,
    place_mask,
    reference_decode_mask,
)

PREFIX = "data:image/png;base64,"


def png_b64(array: np.ndarray, mode: str | None = None) -> str:
    out = io.BytesIO()
    Image.fromarray(array, mode).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def left_half_map(size: int = 256) -> np.ndarray:
    """A probability map: 255 in the left half, 0 in the right half."""
    prob = np.zeros((size, size), dtype=np.uint8)
    prob[:, : size // 2] = 255
    return prob


BOX = PixelBox(10, 20, 110, 70)  # 100 wide, 50 high


def expect_left_half(result: DecodedMask | MaskProblem) -> DecodedMask:
    assert isinstance(result, DecodedMask), result
    assert result.mask.shape == (50, 100)
    assert result.mask.dtype == bool
    assert result.mask[:, :49].all()
    assert not result.mask[:, 51:].any()
    return result


@pytest.mark.parametrize(
    "transform",
    [
        lambda b: PREFIX + b,
        lambda b: b,
        lambda b: PREFIX + "\n".join(b[i : i + 60] for i in range(0, len(b), 60)),
        lambda b: PREFIX + b.rstrip("="),
        lambda b: "  " + PREFIX + b + " \n",
    ],
    ids=["prefixed", "bare", "wrapped_lines", "no_padding", "surrounding_space"],
)
def test_png_variants_decode(transform: object) -> None:
    text = transform(png_b64(left_half_map()))  # type: ignore[operator]
    result = expect_left_half(decode_mask(text, BOX, 1000, 1000))
    assert result.area == 50 * 50


@pytest.mark.parametrize("size", [(256, 256), (64, 32), (300, 500)])
def test_any_png_size_is_resized_to_the_box(size: tuple[int, int]) -> None:
    w, h = size
    prob = np.zeros((h, w), dtype=np.uint8)
    prob[:, : w // 2] = 200
    expect_left_half(decode_mask(PREFIX + png_b64(prob), BOX, 1000, 1000))


def test_threshold_is_strictly_above_127() -> None:
    box = PixelBox(0, 0, 4, 4)
    at = decode_mask(PREFIX + png_b64(np.full((4, 4), 127, np.uint8)), box, 10, 10)
    above = decode_mask(PREFIX + png_b64(np.full((4, 4), 128, np.uint8)), box, 10, 10)
    assert isinstance(at, MaskProblem) and at.reason.startswith("empty")
    assert isinstance(above, DecodedMask) and above.area == 16


def test_rgba_map_uses_alpha_and_luminance() -> None:
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., :3] = 255
    rgba[:, :4, 3] = 255  # white, opaque on the left, transparent on the right
    result = decode_mask(PREFIX + png_b64(rgba, "RGBA"), PixelBox(0, 0, 8, 8), 8, 8)
    assert isinstance(result, DecodedMask)
    assert result.mask[:, :3].all() and not result.mask[:, 5:].any()


@pytest.mark.parametrize(
    ("field", "reason_start"),
    [
        (None, "missing"),
        ("", "missing"),
        ("   ", "missing"),
        ([], "missing"),
        ("<start_of_mask><seg_35><seg_65><seg_4>", "seg_tokens"),
        ("<seg_115><seg_7>", "seg_tokens"),
        (PREFIX + "!!!not base64!!!", "invalid_png"),
        (PREFIX + base64.b64encode(b"GIF89a....").decode(), "invalid_png"),
        ("data:image/jpeg;base64,AAAA", "invalid_png"),
        (PREFIX + png_b64(left_half_map())[:200], "invalid_png"),  # truncated PNG
        (42, "invalid_mask"),
        ({"png": "x"}, "invalid_mask"),
        ([[1, 2], [3, 4]], "invalid_polygon"),
        ([[1, 2], [3, "x"], [5, 6]], "invalid_polygon"),
    ],
)
def test_problems(field: object, reason_start: str) -> None:
    result = decode_mask(field, BOX, 1000, 1000)
    assert isinstance(result, MaskProblem), result
    assert result.reason.startswith(reason_start), result.reason


def test_seg_token_reason_text() -> None:
    result = decode_mask("<start_of_mask><seg_1>", BOX, 100, 100)
    assert isinstance(result, MaskProblem)
    assert "cannot be decoded without Google's decoder" in result.reason


def test_polygon_points_are_y_then_x() -> None:
    # A tall thin triangle region: y spans 100..900, x spans 400..500 (of 1000).
    polygon = [[100, 400], [100, 500], [900, 500], [900, 400]]
    box = PixelBox(0, 0, 200, 100)  # whole 200x100 image
    result = decode_mask(polygon, box, 200, 100)
    assert isinstance(result, DecodedMask)
    rows, cols = np.nonzero(result.mask)
    # [y, x]: rows 10..90 of 100, columns 80..100 of 200. Read as [x, y] it would be wide.
    assert rows.min() == 10 and rows.max() in (89, 90)
    assert cols.min() == 80 and cols.max() in (99, 100)


def test_polygon_is_relative_to_the_box_and_clipped() -> None:
    polygon = [[0, 0], [0, 1000], [1000, 1000], [1000, 0]]  # whole image
    box = PixelBox(30, 10, 60, 20)
    result = decode_mask(polygon, box, 100, 100)
    assert isinstance(result, DecodedMask)
    assert result.mask.shape == (10, 30) and result.mask.all()


def test_multiple_polygons() -> None:
    left = [[0, 0], [0, 200], [1000, 200], [1000, 0]]
    right = [[0, 800], [0, 1000], [1000, 1000], [1000, 800]]
    result = decode_mask([left, right], PixelBox(0, 0, 100, 10), 100, 10)
    assert isinstance(result, DecodedMask)
    assert result.mask[:, 5].all() and result.mask[:, 95].all() and not result.mask[:, 50].any()


def test_polygon_outside_box_is_empty() -> None:
    polygon = [[0, 0], [0, 100], [100, 100], [100, 0]]
    result = decode_mask(polygon, PixelBox(50, 50, 100, 100), 100, 100)
    assert isinstance(result, MaskProblem) and result.reason.startswith("empty")


def test_to_png_round_trip() -> None:
    result = expect_left_half(decode_mask(PREFIX + png_b64(left_half_map()), BOX, 1000, 1000))
    back = np.asarray(Image.open(io.BytesIO(result.to_png())).convert("L")) > 0
    assert back.shape == (50, 100)
    assert np.array_equal(back, result.mask)


def test_place_mask() -> None:
    mask = np.ones((50, 100), dtype=bool)
    full = place_mask(mask, BOX, 200, 100)
    assert full.shape == (100, 200) and int(full.sum()) == 5000
    assert full[20:70, 10:110].all() and not full[:20].any()
    with pytest.raises(ValueError, match="does not match"):
        place_mask(np.ones((5, 5), bool), BOX, 200, 100)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_equals_cookbook_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Smooth-ish random probability maps so the threshold cuts through real gradients.
    coarse = rng.integers(0, 256, size=(16, 16), dtype=np.uint8)
    prob = np.asarray(Image.fromarray(coarse).resize((256, 256), Image.Resampling.BILINEAR))
    text = PREFIX + png_b64(prob)
    width, height = 320, 240
    x0, y0 = (int(v) for v in rng.integers(0, 100, size=2))
    box = PixelBox(x0, y0, x0 + int(rng.integers(5, 200)), y0 + int(rng.integers(5, 130)))
    fast = decode_mask(text, box, width, height)
    assert isinstance(fast, DecodedMask)
    reference = reference_decode_mask(text, box, width, height)
    assert np.array_equal(place_mask(fast.mask, box, width, height), reference)


# Polygon axis order: decided by the item's box, ties by the model's default -------------------

TALL = [[100, 400], [100, 500], [900, 500], [900, 400]]  # [y, x]: a tall strip, x 400..500


def test_polygon_axis_read_as_y_x_when_that_reading_lies_in_the_box() -> None:
    box = PixelBox(80, 10, 100, 90)  # 200x100 image: x 400..500, y 100..900 of 1000
    result = decode_mask(TALL, box, 200, 100, axis_default="xy")
    assert isinstance(result, DecodedMask) and result.shape == "polygon"
    assert result.axis_order == "yx"
    assert result.axis_reason and "100% as [y, x]" in result.axis_reason
    assert result.mask.all()  # the strip fills its own box


def test_polygon_axis_read_as_x_y_when_that_reading_lies_in_the_box() -> None:
    swapped = [[x, y] for y, x in TALL]  # the same strip written [x, y]
    box = PixelBox(80, 10, 100, 90)
    result = decode_mask(swapped, box, 200, 100)  # default yx, but the box says xy
    assert isinstance(result, DecodedMask) and result.axis_order == "xy"
    assert result.mask.all()
    assert result.axis_reason and "as [x, y]" in result.axis_reason


@pytest.mark.parametrize("default", ["yx", "xy"])
def test_polygon_axis_tie_uses_the_default_and_says_so(default: str) -> None:
    result = decode_mask(TALL, PixelBox(0, 0, 200, 100), 200, 100, axis_default=default)
    assert isinstance(result, DecodedMask) and result.axis_order == default
    assert result.axis_reason and "a tie" in result.axis_reason
    rows, cols = np.nonzero(result.mask)
    if default == "yx":  # a tall strip
        assert rows.min() == 10 and cols.max() in (99, 100)
    else:  # a wide strip: x 100..900 of 200 px, y 400..500 of 100 px
        assert cols.min() == 20 and rows.min() == 40


def test_inner_ring_is_a_hole() -> None:
    outer = [[0, 0], [0, 1000], [1000, 1000], [1000, 0]]
    inner = [[250, 250], [250, 750], [750, 750], [750, 250]]
    result = decode_mask([outer, inner], PixelBox(0, 0, 100, 100), 100, 100)
    assert isinstance(result, DecodedMask)
    assert result.mask[5, 5] and not result.mask[50, 50]
    # The ring's own edge pixels belong to the hole (PIL fills edges): 51x51 of 100x100.
    assert result.area == 100 * 100 - 51 * 51


def test_seg_tokens_followed_by_a_png_map_decode_the_map() -> None:
    text = "<start_of_mask><seg_4><seg_20>" + PREFIX + png_b64(left_half_map())
    expect_left_half(decode_mask(text, BOX, 1000, 1000))


def test_png_results_say_png_and_bad_default_is_refused() -> None:
    result = expect_left_half(decode_mask(PREFIX + png_b64(left_half_map()), BOX, 1000, 1000))
    assert result.shape == "png" and result.axis_order is None
    with pytest.raises(ValueError, match="axis_default"):
        decode_mask(TALL, BOX, 1000, 1000, axis_default="zz")


def test_recorded_seg_token_answers_keep_every_box_with_a_reason() -> None:
    from imagejobs.core.geometry import box_2d_to_pixels
    from imagejobs.core.parsing import extract_json, parse_items
    from tests.recorded import load_records

    records = [
        r
        for r in load_records("segmentation")
        if r["raw_text"].lstrip().startswith("[") and "<start_of_mask>" in r["raw_text"]
    ]
    assert len(records) >= 2  # the 000000091615 and 000000200667 answers
    for record in records:
        items = parse_items(extract_json(record["raw_text"])).items
        assert items
        for item in items:
            box = box_2d_to_pixels(item.box_2d, 1000, 1000)
            result = decode_mask(item.mask, box, 1000, 1000)
            assert isinstance(result, MaskProblem) and result.reason.startswith("seg_tokens")
