"""Decode Gemini segmentation masks into boolean box-sized arrays (vectorised numpy).

Mask shapes seen from real Gemini (tests/fixtures/real-gemini-outputs.json):

* ``data:image/png;base64,...``: a PNG probability map (0..255, typically 256x256 grayscale)
  covering the BOX only. It is resized BILINEAR to the box size and thresholded ``> 127``.
* a polygon: a list of ``[a, b]`` points on 0..1000 of the FULL image (Gemini 3.x, Robotics-ER
  1.6), or a list of such rings (even-odd: a ring inside another is a hole). Sources disagree on
  the axis order (Google's points are ``[y, x]``; a forum report calls 3.5 Flash's ``[x, y]``), so
  both readings are tried against the item's box: the one whose points lie inside the box wins;
  when both fit equally the caller's default (the model family's ``polygon_axis_default``) is
  used. The decision and why are recorded on the result (``axis_order``, ``axis_reason``).
* ``<start_of_mask><seg_N>...`` token strings: not decodable without Google's decoder; when a
  ``data:image/png;base64,`` map follows the tokens, the map is decoded.
* nothing at all.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from imagejobs.core.geometry import PixelBox

PNG_DATA_PREFIX = "data:image/png;base64,"
THRESHOLD = 127
_WHITESPACE = re.compile(r"\s+")


AXIS_ORDERS = ("yx", "xy")
# A point may stray this far outside the box (share of the image side) and still count inside.
AXIS_TOLERANCE = 0.02
# One reading must fit this much better (share of points) to beat the other.
AXIS_MARGIN = 0.1


@dataclass
class DecodedMask:
    """A boolean mask of shape ``(box.height, box.width)``; polygons say how they were read."""

    mask: np.ndarray
    shape: str = "png"  # "png" | "polygon"
    axis_order: str | None = None  # polygons: "yx" or "xy"
    axis_reason: str | None = None

    @property
    def area(self) -> int:
        """Number of pixels in the mask."""
        return int(np.count_nonzero(self.mask))

    def to_png(self) -> bytes:
        """The box-sized mask as a 1-bit PNG."""
        out = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(self.mask, dtype=bool)).save(out, format="PNG")
        return out.getvalue()


@dataclass
class MaskProblem:
    """Why a mask could not be decoded (first word is a stable key: missing, seg_tokens, ...)."""

    reason: str


def place_mask(mask: np.ndarray, box: PixelBox, width: int, height: int) -> np.ndarray:
    """A full-image ``(height, width)`` boolean array with the box-sized ``mask`` pasted in."""
    if mask.shape != (box.height, box.width):
        raise ValueError(f"mask shape {mask.shape} does not match box {box.width}x{box.height}")
    if box.x1 > width or box.y1 > height:
        raise ValueError(f"box {box.as_list()} does not fit a {width}x{height} image")
    full = np.zeros((height, width), dtype=bool)
    full[box.y0 : box.y1, box.x0 : box.x1] = mask
    return full


def decode_mask(
    mask_field: object,
    box: PixelBox,
    image_width: int,
    image_height: int,
    *,
    axis_default: str = "yx",
) -> DecodedMask | MaskProblem:
    """Decode one item's ``mask`` into a box-sized boolean mask, or say why it cannot be.

    ``axis_default`` ("yx" or "xy") reads polygon points when the box cannot tell the order.
    """
    if axis_default not in AXIS_ORDERS:
        raise ValueError(f"axis_default must be one of {AXIS_ORDERS}, got {axis_default!r}")
    if mask_field is None or (isinstance(mask_field, str) and not mask_field.strip()):
        return MaskProblem("missing: the item has no mask")
    if isinstance(mask_field, str):
        return _decode_string(mask_field.strip(), box)
    if isinstance(mask_field, list | tuple):
        return _decode_polygons(mask_field, box, image_width, image_height, axis_default)
    return MaskProblem(f"invalid_mask: unsupported mask type {type(mask_field).__name__}")


# PNG probability maps -------------------------------------------------------------------------


def _decode_string(text: str, box: PixelBox) -> DecodedMask | MaskProblem:
    if text.startswith("<start_of_mask>") or "<seg_" in text[:64]:
        at = text.find(PNG_DATA_PREFIX)
        if at < 0:
            return MaskProblem(
                "seg_tokens: <seg_N> token masks cannot be decoded without Google's decoder"
            )
        text = text[at:]  # tokens, then a real PNG map: decode the map
    payload = text
    if text.startswith("data:"):
        header, sep, payload = text.partition(",")
        if not sep or not header.lower().startswith("data:image/png") or "base64" not in header:
            return MaskProblem(f"invalid_png: expected {PNG_DATA_PREFIX!r}, got {header[:40]!r}")
    png = _b64decode(payload)
    if png is None:
        return MaskProblem("invalid_png: the mask is not valid base64")
    probabilities = _png_to_gray(png)
    if isinstance(probabilities, MaskProblem):
        return probabilities
    resized = probabilities.resize((box.width, box.height), Image.Resampling.BILINEAR)
    mask = np.asarray(resized) > THRESHOLD
    if not mask.any():
        return MaskProblem("empty: the mask has no pixel above the threshold")
    return DecodedMask(mask)


def _b64decode(payload: str) -> bytes | None:
    compact = _WHITESPACE.sub("", payload).replace("-", "+").replace("_", "/").rstrip("=")
    compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def _png_to_gray(png: bytes) -> Image.Image | MaskProblem:
    """The PNG as an L image: alpha-carrying maps use luminance x alpha."""
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        return MaskProblem("invalid_png: the decoded mask is not a PNG")
    try:
        with Image.open(io.BytesIO(png), formats=("PNG",)) as img:
            img.load()
            return _to_gray(img)
    except Exception as exc:
        return MaskProblem(f"invalid_png: the mask PNG cannot be decoded ({exc})")


def _to_gray(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "L":
        return img.copy()
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        return Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if mode in ("1", "RGB"):
        return img.convert("L")
    rgba = np.asarray(img.convert("RGBA"), dtype=np.uint16)
    luminance = np.asarray(Image.fromarray(rgba[..., :3].astype(np.uint8), "RGB").convert("L"))
    gray = (luminance.astype(np.uint16) * rgba[..., 3] + 127) // 255
    return Image.fromarray(gray.astype(np.uint8), "L")


# Polygons -------------------------------------------------------------------------------------


def _point(value: object) -> tuple[float, float] | None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    a, b = value
    if isinstance(a, bool) or isinstance(b, bool):
        return None
    if not isinstance(a, int | float) or not isinstance(b, int | float):
        return None
    if not (math.isfinite(a) and math.isfinite(b)):
        return None
    return float(a), float(b)


def _decode_polygons(
    field: list[object] | tuple[object, ...],
    box: PixelBox,
    width: int,
    height: int,
    axis_default: str,
) -> DecodedMask | MaskProblem:
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if not field:
        return MaskProblem("missing: the mask is an empty list")
    first = field[0]
    nested = isinstance(first, list | tuple) and bool(first) and _point(first) is None
    rings: list[np.ndarray] = []
    for index, polygon in enumerate(field if nested else [field]):
        if not isinstance(polygon, list | tuple):
            return MaskProblem(f"invalid_polygon: polygon {index} is not a list of points")
        points = [_point(p) for p in polygon]
        if any(p is None for p in points) or len(points) < 3:
            return MaskProblem(
                f"invalid_polygon: polygon {index} needs at least 3 [a, b] number pairs"
            )
        rings.append(np.array(points, dtype=np.float64))
    order, reason = choose_axis_order(rings, box, width, height, axis_default)
    mask = np.zeros((box.height, box.width), dtype=bool)
    for ring in rings:
        # Points on 0..1000 of the full image -> pixel edges relative to the box.
        ys, xs = (ring[:, 0], ring[:, 1]) if order == "yx" else (ring[:, 1], ring[:, 0])
        xy = np.column_stack((xs / 1000 * width - box.x0, ys / 1000 * height - box.y0))
        canvas = Image.new("1", (box.width, box.height), 0)
        ImageDraw.Draw(canvas).polygon([tuple(p) for p in xy.tolist()], fill=1, outline=1)
        mask ^= np.asarray(canvas, dtype=bool)  # even-odd: an inner ring is a hole
    if not mask.any():
        return MaskProblem("empty: the polygon does not cover any pixel of the box")
    return DecodedMask(mask, shape="polygon", axis_order=order, axis_reason=reason)


def choose_axis_order(
    rings: list[np.ndarray], box: PixelBox, width: int, height: int, default: str
) -> tuple[str, str]:
    """("yx" | "xy", why): the reading of ``[a, b]`` points that lies inside ``box``."""
    points = np.concatenate(rings)
    a, b = points[:, 0] / 1000, points[:, 1] / 1000
    scores = {
        "yx": _share_inside(xs=b * width, ys=a * height, box=box, width=width, height=height),
        "xy": _share_inside(xs=a * width, ys=b * height, box=box, width=width, height=height),
    }
    summary = f"points inside the box: {scores['yx']:.0%} as [y, x], {scores['xy']:.0%} as [x, y]"
    if scores["yx"] >= scores["xy"] + AXIS_MARGIN:
        return "yx", summary
    if scores["xy"] >= scores["yx"] + AXIS_MARGIN:
        return "xy", summary
    return default, f"{summary}; a tie, so the model's default [{default[0]}, {default[1]}]"


def _share_inside(
    *, xs: np.ndarray, ys: np.ndarray, box: PixelBox, width: int, height: int
) -> float:
    slack_x, slack_y = AXIS_TOLERANCE * width, AXIS_TOLERANCE * height
    inside = (
        (xs >= box.x0 - slack_x)
        & (xs <= box.x1 + slack_x)
        & (ys >= box.y0 - slack_y)
        & (ys <= box.y1 + slack_y)
    )
    return float(np.mean(inside))


# Reference (cookbook-style) decoder -----------------------------------------------------------


def reference_decode_mask(
    mask_field: str, box: PixelBox, image_width: int, image_height: int
) -> np.ndarray:
    """A faithful copy of the Gemini cookbook's per-pixel approach, for the benchmark and tests.

    Decodes the ``data:image/png;base64,`` PNG, resizes it BILINEAR to the box, then loops over
    every pixel of the resized map in Python, comparing ``> 127`` and writing into a full-image
    array. Returns the full ``(image_height, image_width)`` boolean mask. Slow on purpose.
    """
    png_str = mask_field.removeprefix(PNG_DATA_PREFIX)
    mask: Image.Image = Image.open(io.BytesIO(base64.b64decode(png_str)))
    mask = mask.resize((box.x1 - box.x0, box.y1 - box.y0), resample=Image.Resampling.BILINEAR)
    mask_array = np.array(mask)
    np_mask = np.zeros((image_height, image_width), dtype=np.uint8)
    for y in range(box.y0, box.y1):
        for x in range(box.x0, box.x1):
            if mask_array[y - box.y0, x - box.x0] > THRESHOLD:
                np_mask[y, x] = 255
    return np_mask > 0
