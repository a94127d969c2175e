"""box_2d validation and conversion between normalised and pixel boxes."""

from __future__ import annotations

import pytest

from imagejobs.core.geometry import (
    PixelBox,
    box_2d_to_pixels,
    normalise_box_2d,
    pixels_to_box_2d,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([53, 248, 388, 527], (53, 248, 388, 527)),
        ((0, 0, 1000, 1000), (0, 0, 1000, 1000)),
        ([10.4, 20.5, 30.6, 40.49], (10, 21, 31, 40)),
        (["10", " 20 ", "30.0", "40"], (10, 20, 30, 40)),
        ([-50, -1, 1200, 1001], (0, 0, 1000, 1000)),
        ([388, 527, 53, 248], (53, 248, 388, 527)),  # inverted corners swapped
        ([100, 900, 200, 800], (100, 800, 200, 900)),
    ],
)
def test_normalise_valid(raw: object, expected: tuple[int, int, int, int]) -> None:
    box, reason = normalise_box_2d(raw)
    assert (box, reason) == (expected, None)
    assert box is not None and all(isinstance(v, int) for v in box)


@pytest.mark.parametrize(
    ("raw", "reason_part"),
    [
        ([1, 2, 3], "4 numbers"),
        ([1, 2, 3, 4, 5], "got 5"),
        ("[1, 2, 3, 4]", "string"),
        (None, "NoneType"),
        ({"ymin": 1}, "dict"),
        ([1, "a", 3, 4], "non-numeric"),
        ([1, None, 3, 4], "non-numeric"),
        ([1, True, 3, 4], "non-numeric"),
        ([1, float("nan"), 3, 4], "non-numeric"),
        ([100, 100, 100, 200], "empty"),
        ([1100, 10, 1200, 20], "empty"),  # both y clamp to 1000
        ([10, -20, 20, -5], "empty"),
    ],
)
def test_normalise_invalid(raw: object, reason_part: str) -> None:
    box, reason = normalise_box_2d(raw)
    assert box is None
    assert reason is not None and reason_part in reason


@pytest.mark.parametrize(
    ("box_2d", "size", "expected"),
    [
        # socks.jpg 640x482: y0 = 53*0.482 = 25.546 -> 26, x0 = 248*0.64 = 158.72 -> 159,
        # y1 = 388*0.482 = 187.016 -> 187, x1 = 527*0.64 = 337.28 -> 337.
        ((53, 248, 388, 527), (640, 482), (159, 26, 337, 187)),
        ((0, 0, 1000, 1000), (640, 480), (0, 0, 640, 480)),
        # 0.5 rounds up: 5/1000*100 = 0.5 -> 1; 15/1000*100 = 1.5 -> 2
        ((5, 5, 15, 15), (100, 100), (1, 1, 2, 2)),
        # a zero-size result is widened to 1 px
        ((500, 500, 501, 501), (10, 10), (5, 5, 6, 6)),
        ((999, 999, 1000, 1000), (10, 10), (9, 9, 10, 10)),
    ],
)
def test_box_2d_to_pixels(
    box_2d: tuple[int, int, int, int], size: tuple[int, int], expected: tuple[int, ...]
) -> None:
    box = box_2d_to_pixels(box_2d, *size)
    assert box.as_list() == list(expected)
    assert box.width >= 1 and box.height >= 1


def test_box_2d_to_pixels_accepts_floats() -> None:
    assert box_2d_to_pixels([52.6, 248.0, 388.0, 527.0], 640, 482).as_list() == [159, 25, 337, 187]


@pytest.mark.parametrize("size", [(640, 482), (1920, 1080), (1000, 1000), (3, 7)])
def test_round_trip_pixels_box_2d(size: tuple[int, int]) -> None:
    width, height = size
    box = PixelBox(0, 1, width, height)
    assert box_2d_to_pixels(pixels_to_box_2d(box, width, height), width, height) == box


def test_pixels_to_box_2d_values() -> None:
    assert pixels_to_box_2d(PixelBox(159, 26, 337, 187), 640, 482) == [54, 248, 388, 527]


def test_pixel_box_properties_and_validation() -> None:
    box = PixelBox(10, 20, 15, 40)
    assert (box.width, box.height, box.as_list()) == (5, 20, [10, 20, 15, 40])
    with pytest.raises(ValueError, match="invalid pixel box"):
        PixelBox(5, 5, 5, 10)
    with pytest.raises(ValueError, match="invalid pixel box"):
        PixelBox(-1, 0, 5, 10)


def test_bad_image_size() -> None:
    with pytest.raises(ValueError, match="0x10"):
        box_2d_to_pixels((1, 2, 3, 4), 0, 10)
