"""Decoding every pixel: the cheapest proof that an image decodes, and the upright image.

Orientation is applied by hand from ``ImageInfo.orientation``, exactly once (see the package
docstring).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image

from imagejobs.core.imageinfo.errors import ImageRejected
from imagejobs.core.imageinfo.header import PIL_FORMATS, ImageInfo, short_name

# EXIF orientation -> the transpose that makes the image upright (None = nothing to do).
_TRANSPOSE: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def verify_decodes(data: bytes, info: ImageInfo) -> None:
    """Prove that ``data`` decodes completely, as cheaply as its format allows.

    Raises ImageRejected("corrupt") for a cut or damaged file. Costs per megapixel on one core
    (``bench/image_check.py``, 12 MP): PNG nothing more, since ``inspect_image`` already walked
    every chunk and CRC (under 1 ms/MP); JPEG a decode at 1/8 scale (``draft``, 1-3 ms/MP
    against 5 for a full decode), which still entropy-decodes every byte, so a cut anywhere is
    found; WEBP and HEIC/HEIF a full decode (15-30 and 45 ms/MP: neither decodes at a reduced
    scale), bounded by the pixel limit ``inspect_image`` enforced.
    """
    if info.mime == "image/png":
        return
    draft = None
    if info.mime == "image/jpeg":
        draft = (max(1, info.width // 8), max(1, info.height // 8))
    _load(data, info, draft).close()


def _sensible_mode(img: Image.Image) -> Image.Image:
    """RGB, RGBA or L: what the rest of the pipeline (and re-encoding) expects."""
    mode = img.mode
    if mode in ("RGB", "RGBA", "L"):
        return img
    if mode in ("LA", "PA", "RGBa", "La"):
        return img.convert("RGBA")
    if mode == "P":
        return img.convert("RGBA" if "transparency" in img.info else "RGB")
    if mode == "1":
        return img.convert("L")
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        return Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    return img.convert("RGB")  # CMYK, YCbCr, LAB, HSV ...


def _load(data: bytes, info: ImageInfo, draft_size: tuple[int, int] | None) -> Image.Image:
    """Open and decode every pixel (JPEG at the reduced ``draft_size`` scale, if given)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data), formats=PIL_FORMATS[info.mime])
            if draft_size is not None and info.mime == "image/jpeg":
                dw, dh = draft_size
                if info.orientation in (5, 6, 7, 8):
                    dw, dh = dh, dw
                img.draft("RGB", (dw, dh))
            img.load()
    except Image.DecompressionBombError as exc:
        raise ImageRejected("decompression_bomb", f"image refused: {exc}") from None
    except Exception as exc:
        raise ImageRejected(
            "corrupt", f"corrupt {short_name(info.mime)} image: decoding failed ({exc})"
        ) from None
    return img


def decode_upright(
    data: bytes, info: ImageInfo, *, draft_size: tuple[int, int] | None = None
) -> Image.Image:
    """Fully decode ``data`` and apply ``info.orientation`` once; RGB, RGBA or L.

    ``draft_size`` (upright width, height) lets JPEG decode at a reduced scale no smaller than it.
    Raises ImageRejected("corrupt") when the pixels cannot be decoded.
    """
    img = _sensible_mode(_load(data, info, draft_size))
    transpose = _TRANSPOSE.get(info.orientation)
    if transpose is not None:
        img = img.transpose(transpose)
    return img
