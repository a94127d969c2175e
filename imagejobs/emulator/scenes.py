"""Synthetic scenes with known ground truth: flat shapes of palette colours on a plain background.

Used by the emulator's tests, the demo and the pipeline's end-to-end tests. Every object's truth
is derived from its own pixel mask, so ``SceneObject.box`` is exactly the tight box of the pixels
drawn: ``(x0, y0, x1, y1)`` in pixel edges, ``x1``/``y1`` exclusive.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from imagejobs.emulator.palette import PALETTE

SHAPES = ("rectangle", "ellipse", "triangle")
DEFAULT_BACKGROUND = (240, 240, 240)
# Colours that stay distinguishable from the default light background.
OBJECT_COLOURS = tuple(name for name in PALETTE if name != "white")


@dataclass(frozen=True)
class ShapeSpec:
    """One shape to draw: ``box`` is ``(x0, y0, x1, y1)`` in pixel edges, exclusive ends."""

    shape: str
    box: tuple[int, int, int, int]
    color_name: str


@dataclass(frozen=True)
class SceneObject:
    label: str
    color_name: str
    shape: str
    box: tuple[int, int, int, int]
    mask: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class Scene:
    image: Image.Image
    objects: list[SceneObject]

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    def encode(self, fmt: str = "PNG", **save_args: object) -> bytes:
        """The image as file bytes (``PNG``, ``JPEG``, ``WEBP``...)."""
        buffer = io.BytesIO()
        self.image.save(buffer, format=fmt, **save_args)
        return buffer.getvalue()


def shape_mask(shape: str, box: tuple[int, int, int, int], width: int, height: int) -> np.ndarray:
    """Boolean ``height x width`` mask of ``shape`` inscribed in ``box`` (pixel centres inside)."""
    x0, y0, x1, y1 = box
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise ValueError(f"box {box} must lie inside the {width}x{height} image with x0<x1, y0<y1")
    # Work on the box only: pixel centres are at +0.5, so every centre in the box is inside it.
    ys, xs = np.mgrid[y0:y1, x0:x1]
    cx, cy = xs + 0.5, ys + 0.5
    if shape == "rectangle":
        local = np.ones(cx.shape, dtype=bool)
    elif shape == "ellipse":
        rx, ry = (x1 - x0) / 2, (y1 - y0) / 2
        u = (cx - (x0 + rx)) / rx
        v = (cy - (y0 + ry)) / ry
        local = u * u + v * v <= 1.0
    elif shape == "triangle":
        # Apex at the top centre, base along the bottom edge.
        half = (cy - y0) / (y1 - y0) * (x1 - x0) / 2
        local = np.abs(cx - (x0 + x1) / 2) <= half
    else:
        raise ValueError(f"unknown shape {shape!r}; expected one of {', '.join(SHAPES)}")
    mask = np.zeros((height, width), dtype=bool)
    mask[y0:y1, x0:x1] = local
    return mask


def make_scene(
    width: int,
    height: int,
    shapes: list[ShapeSpec] | None = None,
    seed: int = 0,
    background: tuple[int, int, int] = DEFAULT_BACKGROUND,
) -> Scene:
    """Draw ``shapes`` (or, when None, a few random ones from ``seed``) on a plain background."""
    if width <= 0 or height <= 0:
        raise ValueError(f"scene size must be positive, got {width}x{height}")
    if shapes is None:
        n = min(5, max(1, (width * height) // 4000))
        shapes = random_shapes(seed, width, height, n)
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:] = background
    objects = []
    for spec in shapes:
        if spec.color_name not in PALETTE:
            raise ValueError(f"unknown colour {spec.color_name!r}; expected one of {list(PALETTE)}")
        mask = shape_mask(spec.shape, spec.box, width, height)
        if not mask.any():
            raise ValueError(f"shape {spec} covers no pixel centre; make it larger")
        pixels[mask] = PALETTE[spec.color_name]
        rows, cols = np.nonzero(mask)
        box = (int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1)
        label = f"{spec.color_name} {spec.shape}"
        objects.append(SceneObject(label, spec.color_name, spec.shape, box, mask))
    objects.sort(key=lambda o: (o.box[1], o.box[0]))
    return Scene(Image.fromarray(pixels, "RGB"), objects)


def random_shapes(seed: int, width: int, height: int, n: int) -> list[ShapeSpec]:
    """``n`` non-overlapping rectangles/ellipses of distinct colours, the last a tiny 6x6 square.

    Shapes keep a 3 px gap from each other and 1 px from the border, so every object is its own
    8-connected region and the border stays pure background.
    """
    if n > len(OBJECT_COLOURS):
        raise ValueError(f"at most {len(OBJECT_COLOURS)} distinct colours, asked for {n}")
    rng = random.Random(seed)
    colours = rng.sample(OBJECT_COLOURS, n)
    placed: list[tuple[int, int, int, int]] = []
    specs: list[ShapeSpec] = []
    max_side = max(8, min(width, height) // 3)
    for index, colour in enumerate(colours):
        tiny = index == n - 1 and n > 1
        for _attempt in range(500):
            if tiny:
                w = h = 6
            else:
                w = rng.randint(8, max(8, min(width - 2, max_side * 2)))
                h = rng.randint(8, max(8, min(height - 2, max_side)))
                if rng.random() < 0.5:
                    w, h = min(h, width - 2), min(w, height - 2)
            if w > width - 2 or h > height - 2 or w < 2 or h < 2:
                continue
            x0 = rng.randint(1, width - 1 - w)
            y0 = rng.randint(1, height - 1 - h)
            box = (x0, y0, x0 + w, y0 + h)
            if all(_apart(box, other, gap=3) for other in placed):
                placed.append(box)
                # A 6x6 "ellipse" fills 89% of its box: indistinguishable, so tiny ones are squares.
                shape = "rectangle" if tiny else rng.choice(("rectangle", "ellipse"))
                specs.append(ShapeSpec(shape, box, colour))
                break
    return specs


def random_scene(seed: int, width: int, height: int, n: int) -> Scene:
    """A scene of ``n`` random non-overlapping shapes (fewer if they do not fit)."""
    return make_scene(width, height, random_shapes(seed, width, height, n), seed=seed)


def _apart(a: tuple[int, int, int, int], b: tuple[int, int, int, int], gap: int) -> bool:
    return a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]
