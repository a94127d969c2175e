"""The console's overlay PNG: a job's boxes and masks on its upright image, numbered like the
job page's table, with tags that never sit on an object.

The API's ``overlay.png`` (``imagejobs.core.overlay``) writes each label over the top of its box
when there is no room above it, and over whatever lies above otherwise. Here outlines are drawn
just *outside* each box and each tag (``"3 red rectangle"``, or ``"3"`` where the words do not
fit) goes to the first place beside its box that covers no box and no other tag: above, below,
right, left. Only when every place is taken does a tag overlap, and then where it covers least.
Large images are shown at most :data:`DISPLAY_LONGEST` pixels long (boxes scaled alike).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

from imagejobs.core.imageinfo import decode_upright, inspect_image
from imagejobs.core.overlay import MASK_ALPHA, colour_for
from imagejobs.store.blobs import BlobStore
from imagejobs.store.db import Database
from imagejobs.store.views import image_marks

DISPLAY_LONGEST = 2048
Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive ends)


class NoStoredImage(LookupError):
    """The job has no image at that position, or it was never stored (not fetched yet)."""


@dataclass(frozen=True)
class Mark:
    number: int  # 1-based, as the job page's table numbers it
    label: str
    box: Rect  # in pixels of the drawn image
    mask: np.ndarray | None = None  # box-sized, truthy inside


def _area(a: Rect, b: Rect) -> int:
    """The area ``a`` and ``b`` share."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return max(0, width) * max(0, height)


def _grow(box: Rect, by: int) -> Rect:
    return (box[0] - by, box[1] - by, box[2] + by, box[3] + by)


def _candidates(box: Rect, size: tuple[int, int], gap: int, bounds: tuple[int, int]) -> list[Rect]:
    """Places for a ``size`` tag beside ``box``, in order of preference, inside the image."""
    tw, th = size
    width, height = bounds
    x0, y0, x1, y1 = _grow(box, gap)
    spots = [
        (box[0], y0 - th),  # above, left-aligned
        (box[0], y1),  # below
        (box[2] - tw, y0 - th),  # above, right-aligned
        (box[2] - tw, y1),
        (x1, box[1]),  # right
        (x0 - tw, box[1]),  # left
        (x1, box[3] - th),
        (x0 - tw, box[3] - th),
    ]
    places = []
    for left, top in spots:
        left = min(max(left, 0), width - tw)
        if 0 <= top <= height - th and left >= 0:
            places.append((left, top, left + tw, top + th))
    return places


def _least_covering(
    box: Rect, size: tuple[int, int], gap: int, bounds: tuple[int, int], taken: Sequence[Rect]
) -> tuple[int, Rect]:
    """The place beside ``box`` that covers least of ``taken``, and how much it covers."""
    best: tuple[int, Rect] | None = None
    for place in _candidates(box, size, gap, bounds):
        cover = sum(_area(place, other) for other in taken)
        if best is None or cover < best[0]:
            best = (cover, place)
        if cover == 0:
            break
    return best if best is not None else (0, (0, 0, size[0], size[1]))  # larger than the image


def place_tags(
    boxes: Sequence[Rect],
    sizes: Sequence[Sequence[tuple[int, int]]],
    bounds: tuple[int, int],
    gap: int,
) -> list[tuple[int, Rect]]:
    """For box ``i``, which of its tag sizes (``sizes[i]``: preferred first, smallest last) goes
    where.

    Every box first gets its smallest tag where it covers no box (grown by ``gap``, so outlines
    stay visible) and no tag placed before (or, with no such place, where it covers least);
    then each tag grows to a preferred size wherever that size finds a free place.
    """
    obstacles = [_grow(box, gap) for box in boxes]
    chosen: list[tuple[int, Rect]] = []
    for box, options in zip(boxes, sizes, strict=True):
        taken = [*obstacles, *(rect for _, rect in chosen)]
        chosen.append((len(options) - 1, _least_covering(box, options[-1], gap, bounds, taken)[1]))
    for index, (box, options) in enumerate(zip(boxes, sizes, strict=True)):
        others = [*obstacles, *(rect for j, (_, rect) in enumerate(chosen) if j != index)]
        for which, size in enumerate(options[:-1]):
            cover, place = _least_covering(box, size, gap, bounds, others)
            if cover == 0:
                chosen[index] = (which, place)
                break
    return chosen


def draw_marks(image: PILImage.Image, marks: Sequence[Mark]) -> PILImage.Image:
    """A new RGB image: mask fills, outlines outside each box, and placed tags."""
    width, height = image.size
    canvas = image.convert("RGBA")
    if any(mark.mask is not None for mark in marks):
        layer = np.zeros((height, width, 4), dtype=np.uint8)
        for mark in marks:
            if mark.mask is not None:
                x0, y0, x1, y1 = mark.box
                region = layer[y0:y1, x0:x1]
                region[mark.mask[: y1 - y0, : x1 - x0].astype(bool)] = (
                    *colour_for(mark.number - 1),
                    MASK_ALPHA,
                )
        canvas = PILImage.alpha_composite(canvas, PILImage.fromarray(layer, "RGBA"))
    draw = ImageDraw.Draw(canvas)
    line = max(2, min(width, height) // 300)
    font = ImageFont.load_default(size=max(14, min(width, height) // 32))
    pad = max(2, line)
    texts, sizes = [], []
    for mark in marks:
        options = [f"{mark.number} {mark.label}", str(mark.number)]
        texts.append(options)
        sizes.append([_text_size(draw, text, font, pad) for text in options])
    tags = place_tags([m.box for m in marks], sizes, (width, height), line + 1)
    for mark in marks:  # every outline first, so no tag is drawn under another's outline
        x0, y0, x1, y1 = _grow(mark.box, line)
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=colour_for(mark.number - 1), width=line)
    for mark, options, (which, place) in zip(marks, texts, tags, strict=True):
        draw.rectangle((place[0], place[1], place[2] - 1, place[3] - 1), fill=_dark(mark))
        left, top, _, _ = draw.textbbox((0, 0), options[which], font=font)
        draw.text((place[0] + pad - left, place[1] + pad - top), options[which], "white", font)
    return canvas.convert("RGB")


def _dark(mark: Mark) -> tuple[int, int, int]:
    """The mark's colour, darkened enough for white text to read on it."""
    return tuple(int(c * 0.7) for c in colour_for(mark.number - 1))  # type: ignore[return-value]


def _text_size(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    pad: int,
) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return int(right - left) + 2 * pad, int(bottom - top) + 2 * pad


def _scaled(box: Rect, scale: float, bounds: tuple[int, int]) -> Rect:
    x0, y0 = int(box[0] * scale), int(box[1] * scale)
    x1 = min(bounds[0], max(x0 + 1, round(box[2] * scale)))
    y1 = min(bounds[1], max(y0 + 1, round(box[3] * scale)))
    return (x0, y0, x1, y1)


def _mask_pixels(png: bytes, size: tuple[int, int]) -> np.ndarray:
    mask = PILImage.open(io.BytesIO(png)).convert("L")
    if mask.size != size:
        mask = mask.resize(size, PILImage.Resampling.NEAREST)
    return np.asarray(mask) > 0


def render_console_overlay(db: Database, blobs: BlobStore, job_id: str, position: int) -> bytes:
    """The PNG of image ``position`` of the job; raises NoStoredImage (or BlobNotFound)."""
    with db.session() as session:
        found = image_marks(session, job_id, position)
    if found is None:
        raise NoStoredImage(f"job {job_id} has no stored image {position}")
    sha256, detections, masks = found
    data = blobs.get(sha256)
    info = inspect_image(data, max_bytes=len(data) + 1, max_pixels=10**10)
    image = decode_upright(data, info)
    scale = min(1.0, DISPLAY_LONGEST / max(image.size))
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, PILImage.Resampling.LANCZOS)
    bounds = image.size
    marks = []
    for row in masks or detections:  # a segment job's masks carry its boxes too
        box = _scaled((row.x0, row.y0, row.x1, row.y1), scale, bounds)
        png = getattr(row, "mask_png", None)
        pixels = _mask_pixels(png, (box[2] - box[0], box[3] - box[1])) if png else None
        marks.append(Mark(row.seq + 1, row.label, box, pixels))
    out = io.BytesIO()
    draw_marks(image, marks).save(out, format="PNG", compress_level=3)
    return out.getvalue()


def unreadable_image(reason: str) -> bytes:
    """A grey PNG saying why the stored image cannot be shown."""
    image = PILImage.new("RGB", (640, 160), (236, 238, 242))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=18)
    draw.text((20, 50), "This image cannot be shown:", (85, 93, 107), font)
    draw.text((20, 84), reason[:70], (180, 35, 24), font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
