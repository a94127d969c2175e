"""Draw detections and masks on the upright image (for previews and debugging)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from imagejobs.core.geometry import PixelBox

PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75),
    (60, 180, 75),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
    (0, 128, 128),
    (170, 110, 40),
    (128, 0, 0),
)
MASK_ALPHA = 110


def colour_for(index: int) -> tuple[int, int, int]:
    """A distinct colour per item index (cycling through ``PALETTE``)."""
    return PALETTE[index % len(PALETTE)]


def _check_box(box: PixelBox, width: int, height: int, what: str) -> None:
    if box.x1 > width or box.y1 > height:
        raise ValueError(f"{what} box {box.as_list()} does not fit the {width}x{height} image")


def draw_overlay(
    image: Image.Image,
    detections: list[tuple[str, PixelBox]],
    masks: list[tuple[str, PixelBox, np.ndarray]],
) -> Image.Image:
    """A new RGB image: semi-transparent coloured masks, then labelled boxes, on ``image``.

    Masks get their fill plus a labelled box outline; detections a labelled box. Item ``i`` of
    each list gets ``colour_for(i)``, so a segment job drawn both ways matches. Each mask is
    box-sized (``(box.height, box.width)``, truthy = inside). ``image`` is unchanged.
    """
    width, height = image.size
    canvas = image.convert("RGBA")
    if masks:
        layer = np.zeros((height, width, 4), dtype=np.uint8)
        for index, (label, box, mask) in enumerate(masks):
            _check_box(box, width, height, f"mask {index} ({label!r})")
            if mask.shape != (box.height, box.width):
                raise ValueError(
                    f"mask {index} ({label!r}) has shape {mask.shape}; "
                    f"expected {(box.height, box.width)} for its box"
                )
            region = layer[box.y0 : box.y1, box.x0 : box.x1]
            region[mask.astype(bool)] = (*colour_for(index), MASK_ALPHA)
        canvas = Image.alpha_composite(canvas, Image.fromarray(layer, "RGBA"))
    draw = ImageDraw.Draw(canvas)
    line = max(2, min(width, height) // 300)
    font = ImageFont.load_default(size=max(12, min(width, height) // 40))
    labelled = [(label, box, index) for index, (label, box, _) in enumerate(masks)]
    labelled += [(label, box, index) for index, (label, box) in enumerate(detections)]
    for label, box, index in labelled:
        _check_box(box, width, height, f"item {index} ({label!r})")
        colour = colour_for(index)
        draw.rectangle((box.x0, box.y0, box.x1 - 1, box.y1 - 1), outline=colour, width=line)
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        text_w, text_h = right - left, bottom - top
        ty = box.y0 - text_h - 4 if box.y0 - text_h - 4 >= 0 else box.y0
        draw.rectangle((box.x0, ty, box.x0 + text_w + 4, ty + text_h + 4), fill=colour)
        draw.text((box.x0 + 2 - left, ty + 2 - top), label, fill=(255, 255, 255), font=font)
    return canvas.convert("RGB")
