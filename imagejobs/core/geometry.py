"""Boxes: Gemini's normalised ``box_2d`` ([ymin, xmin, ymax, xmax] on 0..1000) and pixel boxes.

``box_2d`` is normalised to the image that was sent; since the pipeline only sends the upright
image or a uniformly downscaled copy, it maps straight onto the original upright size.
Rounding is half-up (``2.5 -> 3``), done with integer arithmetic when the inputs are integers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

NORMALISED_MAX = 1000

Box2D = tuple[int, int, int, int]


@dataclass(frozen=True)
class PixelBox:
    """A box in pixel EDGES: columns x0..x1-1 and rows y0..y1-1 (x1, y1 exclusive)."""

    x0: int
    y0: int
    x1: int
    y1: int

    def __post_init__(self) -> None:
        if self.x1 <= self.x0 or self.y1 <= self.y0 or self.x0 < 0 or self.y0 < 0:
            raise ValueError(
                f"invalid pixel box x0={self.x0} y0={self.y0} x1={self.x1} y1={self.y1}: "
                "needs 0 <= x0 < x1 and 0 <= y0 < y1"
            )

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def as_list(self) -> list[int]:
        """``[x0, y0, x1, y1]``."""
        return [self.x0, self.y0, self.x1, self.y1]


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def normalise_box_2d(raw: object) -> tuple[Box2D | None, str | None]:
    """Validate a model's ``box_2d``: ``(box, None)`` or ``(None, reason)``.

    Accepts 4 numbers (ints, floats or numeric strings) as [ymin, xmin, ymax, xmax]; clamps them to
    0..1000, swaps inverted corners and rounds half-up. Wrong length, non-numeric values and boxes
    with zero width or height after clamping give a reason instead.
    """
    if isinstance(raw, str):
        return None, f"box_2d must be a list of 4 numbers, got the string {raw[:40]!r}"
    if not isinstance(raw, list | tuple):
        return None, f"box_2d must be a list of 4 numbers, got {type(raw).__name__}"
    if len(raw) != 4:
        return None, f"box_2d must have 4 numbers [ymin, xmin, ymax, xmax], got {len(raw)}"
    numbers = [_as_number(v) for v in raw]
    if any(n is None for n in numbers):
        return None, f"box_2d has a non-numeric value: {list(raw)!r}"
    ymin, xmin, ymax, xmax = (
        _round_half_up(min(max(n, 0.0), float(NORMALISED_MAX))) for n in numbers if n is not None
    )
    if ymin > ymax:
        ymin, ymax = ymax, ymin
    if xmin > xmax:
        xmin, xmax = xmax, xmin
    if ymin == ymax or xmin == xmax:
        return None, f"box_2d is empty after clamping to 0..1000: {[ymin, xmin, ymax, xmax]}"
    return (ymin, xmin, ymax, xmax), None


def _scale(value: float, size: int) -> int:
    """``value / 1000 * size`` rounded half-up (exact for integer values)."""
    if isinstance(value, int):
        return (value * size + NORMALISED_MAX // 2) // NORMALISED_MAX
    return _round_half_up(value * size / NORMALISED_MAX)


def _span(lo: int, hi: int, size: int) -> tuple[int, int]:
    """Clamp an edge pair to 0..size and make it at least 1 px long."""
    lo = min(max(lo, 0), size)
    hi = min(max(hi, 0), size)
    if hi <= lo:
        if lo >= size:
            lo, hi = size - 1, size
        else:
            hi = lo + 1
    return lo, hi


def box_2d_to_pixels(box_2d: Sequence[float], width: int, height: int) -> PixelBox:
    """Pixel box of a normalised ``[ymin, xmin, ymax, xmax]`` on a ``width`` x ``height`` image.

    ``y = v / 1000 * height``, ``x = v / 1000 * width``, rounded half-up, clamped to the image and
    at least 1 px wide and high.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if len(box_2d) != 4:
        raise ValueError(f"box_2d must have 4 values, got {len(box_2d)}")
    ymin, xmin, ymax, xmax = box_2d
    y0, y1 = _span(_scale(ymin, height), _scale(ymax, height), height)
    x0, x1 = _span(_scale(xmin, width), _scale(xmax, width), width)
    return PixelBox(x0, y0, x1, y1)


def pixels_to_box_2d(box: PixelBox, width: int, height: int) -> list[int]:
    """Normalised ``[ymin, xmin, ymax, xmax]`` (0..1000, rounded half-up) of a pixel box."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")

    def norm(v: int, size: int) -> int:
        return min((v * NORMALISED_MAX * 2 + size) // (2 * size), NORMALISED_MAX)

    return [norm(box.y0, height), norm(box.x0, width), norm(box.y1, height), norm(box.x1, width)]
