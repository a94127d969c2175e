"""Deterministic numpy scene analysis: what the emulator "sees" in an image.

Rules (the pipeline's end-to-end tests rely on them):

* The image is analysed exactly as received: no EXIF rotation, no resizing.
* Background = the most common colour along the image border (border pixels are binned to
  16 levels per channel, the fullest bin wins, its median pixel is the background colour).
* Foreground = pixels whose largest channel difference from the background exceeds 40
  (a tolerance for JPEG noise).
* Objects = 8-connected foreground regions (``scipy.ndimage.label``); regions smaller than
  4 pixels are dropped. Objects are ordered by ``(ymin, xmin)``.
* ``box_2d`` = ``[round(ymin*1000/H), round(xmin*1000/W), round((ymax+1)*1000/H),
  round((xmax+1)*1000/W)]`` with ``ymax``/``xmax`` the last pixel row/column inclusive. The
  box edges are therefore pixel *edges*: converting back with ``v/1000*H`` (or ``*W``) gives the
  pixel-edge box ``(x0, y0, x1, y1)`` with ``x1``/``y1`` exclusive, within 0.5 px for images up
  to 1000 px on that side.
* Label = ``"<colour> <shape>"``: the colour is the palette name nearest (RGB) to the region's
  median colour; the shape comes from the fill ratio (region pixels / box area): >= 0.88
  rectangle, >= 0.62 ellipse (ideal pi/4), >= 0.35 triangle (ideal 0.5), else "shape".
* Segmentation mask = the object's own pixels inside its box as a 256x256 grayscale PNG
  probability map (0..255): nearest-neighbour when enlarging, area averaging when shrinking, so
  the consumer's "resize to box size (bilinear), threshold at 127" recovers the region.
"""

from __future__ import annotations

import base64
import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage

from imagejobs.emulator.palette import COLOUR_NAMES, colour_name, nearest_indices

FOREGROUND_TOLERANCE = 40
MIN_REGION_PIXELS = 4
MASK_SIZE = 256
_DOMINANT_SAMPLE = 100_000


class ImageDecodeError(ValueError):
    """The bytes are not an image the emulator can read."""


@dataclass(frozen=True)
class DetectedObject:
    """One foreground region. ``box`` is ``(x0, y0, x1, y1)`` in pixel edges, exclusive ends."""

    label: str
    color_name: str
    shape: str
    box: tuple[int, int, int, int]
    area: int
    mask: np.ndarray = field(repr=False)  # bool, shape (y1 - y0, x1 - x0)

    def box_2d(self, width: int, height: int) -> list[int]:
        return box_2d(self.box, width, height)

    def mask_data_url(self) -> str:
        return mask_data_url(self.mask)


@dataclass(frozen=True)
class ImageAnalysis:
    width: int
    height: int
    background: tuple[int, int, int]
    background_name: str
    objects: list[DetectedObject]
    dominant_colors: list[tuple[str, float]]  # (name, fraction of pixels), largest first


def box_2d(box: tuple[int, int, int, int], width: int, height: int) -> list[int]:
    """Pixel-edge box ``(x0, y0, x1, y1)`` to Gemini's ``[ymin, xmin, ymax, xmax]`` on 0..1000."""
    x0, y0, x1, y1 = box
    return [
        round(y0 * 1000 / height),
        round(x0 * 1000 / width),
        round(y1 * 1000 / height),
        round(x1 * 1000 / width),
    ]


def shape_name(fill_ratio: float) -> str:
    """Shape word for a region filling ``fill_ratio`` of its bounding box."""
    if fill_ratio >= 0.88:
        return "rectangle"
    if fill_ratio >= 0.62:
        return "ellipse"
    if fill_ratio >= 0.35:
        return "triangle"
    return "shape"


def decode_image(data: bytes) -> np.ndarray:
    """Decode PNG/JPEG/WebP/HEIC/HEIF bytes to an ``H x W x 3`` uint8 RGB array (no EXIF turn)."""
    _register_heif()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                rgb = Image.alpha_composite(flat, rgba).convert("RGB")
            else:
                rgb = image.convert("RGB")
    except Exception as exc:
        # PIL's own message names its BytesIO object (<_io.BytesIO object at 0x...>): say what
        # was wrong without it.
        kind = type(exc).__name__
        raise ImageDecodeError(
            f"cannot decode image ({kind}): not a PNG, JPEG, WEBP, HEIC or HEIF image"
        ) from None
    return np.asarray(rgb, dtype=np.uint8)


def analyse_pixels(pixels: np.ndarray) -> ImageAnalysis:
    """Measure an ``H x W x 3`` uint8 array: background, objects and dominant colours."""
    height, width = pixels.shape[:2]
    background = _border_background(pixels)
    diff = np.abs(pixels.astype(np.int16) - np.array(background, dtype=np.int16)).max(axis=2)
    foreground = diff > FOREGROUND_TOLERANCE
    labels, _count = ndimage.label(foreground, structure=np.ones((3, 3), dtype=bool))
    objects = []
    for index, slices in enumerate(ndimage.find_objects(labels), start=1):
        if slices is None:
            continue
        region = labels[slices] == index
        area = int(region.sum())
        if area < MIN_REGION_PIXELS:
            continue
        ys, xs = slices
        box = (int(xs.start), int(ys.start), int(xs.stop), int(ys.stop))
        median = np.median(pixels[slices][region], axis=0)
        colour = colour_name(median)
        shape = shape_name(area / region.size)
        objects.append(DetectedObject(f"{colour} {shape}", colour, shape, box, area, region))
    objects.sort(key=lambda o: (o.box[1], o.box[0]))
    return ImageAnalysis(
        width=width,
        height=height,
        background=background,
        background_name=colour_name(background),
        objects=objects,
        dominant_colors=_dominant_colours(pixels),
    )


_CACHE: OrderedDict[str, ImageAnalysis] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 64


def analyse_image(data: bytes) -> ImageAnalysis:
    """Decode and analyse image bytes; results are cached by content hash (same bytes, same
    answer, and a burst of identical requests costs one analysis)."""
    key = hashlib.sha256(data).hexdigest()
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
            return cached
    analysis = analyse_pixels(decode_image(data))
    with _CACHE_LOCK:
        _CACHE[key] = analysis
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return analysis


def mask_data_url(mask: np.ndarray) -> str:
    """A box-crop boolean mask as ``data:image/png;base64,`` of a 256x256 probability map."""
    image = Image.fromarray(mask.astype(np.uint8) * 255, "L")
    h, w = mask.shape
    resample_x = Image.Resampling.NEAREST if w <= MASK_SIZE else Image.Resampling.BOX
    resample_y = Image.Resampling.NEAREST if h <= MASK_SIZE else Image.Resampling.BOX
    # Resize each axis on its own so a thin box can enlarge one way and shrink the other.
    image = image.resize((MASK_SIZE, h), resample_x).resize((MASK_SIZE, MASK_SIZE), resample_y)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _border_background(pixels: np.ndarray) -> tuple[int, int, int]:
    border = np.concatenate(
        [pixels[0, :], pixels[-1, :], pixels[:, 0], pixels[:, -1]], axis=0
    ).astype(np.int32)
    bins = border // 16
    keys = (bins[:, 0] << 8) | (bins[:, 1] << 4) | bins[:, 2]
    values, counts = np.unique(keys, return_counts=True)
    winners = border[keys == values[int(np.argmax(counts))]]
    median = np.median(winners, axis=0)
    return (int(median[0]), int(median[1]), int(median[2]))


def _dominant_colours(pixels: np.ndarray, top: int = 3) -> list[tuple[str, float]]:
    flat = pixels.reshape(-1, 3)
    sample = flat[:: max(1, flat.shape[0] // _DOMINANT_SAMPLE)].astype(np.int32)
    packed = (sample[:, 0] << 16) | (sample[:, 1] << 8) | sample[:, 2]
    colours, weights = np.unique(packed, return_counts=True)
    unique_rgb = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], axis=1)
    counts = np.bincount(nearest_indices(unique_rgb), weights=weights, minlength=len(COLOUR_NAMES))
    total = counts.sum()
    order = np.argsort(-counts, kind="stable")[:top]
    return [(COLOUR_NAMES[i], round(float(counts[i] / total), 3)) for i in order if counts[i]]


_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True
