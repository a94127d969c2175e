"""The console's overlay: tags go beside boxes, never onto an object, and drawing leaves every
object's own pixels as they were."""

from __future__ import annotations

import numpy as np
from PIL import Image

from api.console.overlay import Mark, _area, _grow, draw_marks, place_tags


def test_tags_avoid_every_box_and_each_other_in_a_crowded_row() -> None:
    # Small objects side by side with a little room above and below each.
    boxes = [(20 + 30 * i, 60, 40 + 30 * i, 80) for i in range(8)]
    sizes = [[(70, 18), (14, 18)] for _ in boxes]
    placed = place_tags(boxes, sizes, (300, 140), gap=2)
    rects = [rect for _, rect in placed]
    for index, rect in enumerate(rects):
        assert all(_area(rect, _grow(box, 2)) == 0 for box in boxes), (index, rect)
        assert all(_area(rect, other) == 0 for other in rects[:index]), (index, rect)
        assert 0 <= rect[0] < rect[2] <= 300
        assert 0 <= rect[1] < rect[3] <= 140
    assert any(which == 1 for which, _ in placed)  # where the words do not fit, the number goes


def test_a_box_at_the_top_edge_gets_its_tag_below() -> None:
    ((which, rect),) = place_tags([(10, 0, 30, 12)], [[(60, 16)]], (200, 100), gap=2)
    assert which == 0 and rect[1] >= 14


def test_with_no_free_place_the_tag_covers_least() -> None:
    # The image is all box but a strip: the tag takes the place that overlaps least.
    boxes = [(0, 0, 100, 100)]
    ((_, rect),) = place_tags(boxes, [[(20, 10)]], (100, 100), gap=0)
    assert rect[2] <= 100 and rect[3] <= 100


def test_drawing_leaves_each_objects_pixels_untouched() -> None:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 255, size=(120, 200, 3), dtype=np.uint8)
    image = Image.fromarray(pixels, "RGB")
    marks = [
        Mark(1, "tiny", (100, 50, 106, 56)),
        Mark(2, "a longer label", (108, 52, 120, 60)),
        Mark(3, "edge", (0, 0, 30, 20)),
    ]
    drawn = np.asarray(draw_marks(image, marks))
    for mark in marks:
        x0, y0, x1, y1 = mark.box
        assert np.array_equal(drawn[y0:y1, x0:x1], pixels[y0:y1, x0:x1]), mark.label
    assert not np.array_equal(drawn, pixels)  # outlines and tags were drawn


def test_masks_are_filled_inside_their_box_only() -> None:
    image = Image.new("RGB", (60, 40), (255, 255, 255))
    mask = np.zeros((10, 10), dtype=bool)
    mask[2:8, 2:8] = True
    drawn = np.asarray(draw_marks(image, [Mark(1, "blob", (20, 15, 30, 25), mask)]))
    assert (drawn[19, 24] != 255).any()  # inside the mask: tinted
    assert (drawn[15, 20] == 255).all()  # inside the box, outside the mask: as it was
