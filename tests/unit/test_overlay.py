"""Overlay drawing of boxes and masks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from imagejobs.core.geometry import PixelBox
from imagejobs.core.overlay import colour_for, draw_overlay


def test_masks_tint_only_inside_and_boxes_are_outlined() -> None:
    image = Image.new("RGB", (200, 100), (0, 0, 0))
    mask = np.zeros((60, 50), dtype=bool)
    mask[:, :25] = True
    out = draw_overlay(
        image, [("cat", PixelBox(120, 10, 190, 90))], [("dog", PixelBox(10, 30, 60, 90), mask)]
    )
    assert out.size == (200, 100) and out.mode == "RGB"
    assert image.getpixel((20, 60)) == (0, 0, 0)  # input untouched
    tinted = out.getpixel((20, 60))
    assert isinstance(tinted, tuple)
    assert tinted != (0, 0, 0) and tinted[0] > tinted[1]  # red-ish first palette colour
    assert out.getpixel((50, 60)) == (0, 0, 0)  # inside the box, outside the mask
    assert out.getpixel((120, 50)) == colour_for(0)  # detection box edge
    assert out.getpixel((155, 50)) == (0, 0, 0)  # detection interior untouched


def test_rgba_input_and_no_items() -> None:
    image = Image.new("RGBA", (20, 20), (10, 20, 30, 255))
    out = draw_overlay(image, [], [])
    assert out.getpixel((5, 5)) == (10, 20, 30)


def test_bad_mask_shape_and_box() -> None:
    image = Image.new("RGB", (50, 50))
    with pytest.raises(ValueError, match="shape"):
        draw_overlay(image, [], [("x", PixelBox(0, 0, 10, 10), np.ones((5, 5), bool))])
    with pytest.raises(ValueError, match="does not fit"):
        draw_overlay(image, [("x", PixelBox(0, 0, 60, 10))], [])
