"""What a header-only read tells: the upload check, the upright size and EXIF orientation.

Nothing here decodes pixels (``Image.open`` is lazy); a PNG's chunks and CRCs are walked, which
needs no inflation.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import Image

from imagejobs.core.imageinfo.errors import ImageRejected
from imagejobs.core.imageinfo.sniff import SUPPORTED_NAMES, describe_unsupported, sniff_mime

pillow_heif.register_heif_opener()

PIL_FORMATS = {
    "image/png": ("PNG",),
    "image/jpeg": ("JPEG",),
    "image/webp": ("WEBP",),
    "image/heic": ("HEIF",),
    "image/heif": ("HEIF",),
}

_EXIF_ORIENTATION = 0x0112
ORIENTATIONS = range(1, 9)  # EXIF orientation values; 5..8 swap width and height


@dataclass(frozen=True)
class ImageInfo:
    """What a header-only read tells about an image.

    ``width``/``height`` are the UPRIGHT size; ``orientation`` is the EXIF orientation the decoder
    still has to apply (1 = nothing).
    """

    mime: str
    width: int
    height: int
    orientation: int
    size_bytes: int


def _exif_orientation(img: Image.Image, mime: str) -> int:
    """EXIF orientation known from the header alone (1 when absent, odd or HEIF)."""
    if mime in ("image/heic", "image/heif"):
        return 1  # pillow-heif already applied irot/imir and reset EXIF to 1 (package docstring)
    if "exif" not in img.info:
        return 1  # PNG getexif() would decode the whole file to look for a late eXIf chunk
    try:
        value = img.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # malformed EXIF: ignore it rather than refuse the image
        return 1
    return value if isinstance(value, int) and value in ORIENTATIONS else 1


def _open_header(data: bytes, mime: str) -> Image.Image:
    """``Image.open`` (header only) with PIL's bomb check turned into ImageRejected."""
    with warnings.catch_warnings():
        # Our own max_pixels limit governs; PIL's warning threshold is not configurable per call.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data), formats=PIL_FORMATS[mime])
        except Image.DecompressionBombError as exc:
            raise ImageRejected(
                "decompression_bomb", f"image refused as a decompression bomb: {exc}"
            ) from None
        except Exception as exc:
            raise ImageRejected(
                "corrupt", f"corrupt {short_name(mime)} image: cannot read its header ({exc})"
            ) from None


def short_name(mime: str) -> str:
    return mime.removeprefix("image/").upper()


def check_upload(data: bytes, *, max_bytes: int) -> str:
    """The image check every entry point makes before a job is queued; returns the MIME type.

    The HTTP API's intake, Celery interop and the local CLI call this, and ``inspect_image``
    starts with it, so an image is refused the same way (and with the same words) wherever it
    comes in. Raises ImageRejected (code empty / too_large / unsupported_type).
    """
    if not data:
        raise ImageRejected("empty", "image is empty (0 bytes)")
    if len(data) > max_bytes:
        raise ImageRejected(
            "too_large", f"image is {len(data)} bytes; the limit is {max_bytes} bytes"
        )
    mime = sniff_mime(data)
    if mime is None:
        raise ImageRejected(
            "unsupported_type",
            f"unsupported image type {describe_unsupported(data)} (by content); "
            f"supported: {SUPPORTED_NAMES}",
        )
    return mime


def inspect_image(
    data: bytes, *, max_bytes: int, max_pixels: int, verified: bool = False
) -> ImageInfo:
    """Check ``data`` by content and read its upright size without decoding pixels.

    Raises ImageRejected (code empty / too_large / unsupported_type / corrupt / too_many_pixels /
    decompression_bomb). Header reads cannot find every corruption (a cut JPEG, WEBP or HEIC
    has a perfect header): ``verify_decodes`` / ``decode_upright`` report the rest.
    ``verified``: these very bytes (by sha256) were decoded completely before, so the PNG
    chunk walk is not done again.
    """
    mime = check_upload(data, max_bytes=max_bytes)
    img = _open_header(data, mime)
    try:
        width, height = img.size
        if width <= 0 or height <= 0:
            raise ImageRejected(
                "corrupt", f"corrupt {short_name(mime)} image: size {width}x{height}"
            )
        if width * height > max_pixels:
            raise ImageRejected(
                "too_many_pixels",
                f"image is {width}x{height} = {width * height:,} pixels; "
                f"the limit is {max_pixels:,} pixels",
            )
        orientation = _exif_orientation(img, mime)
    finally:
        img.close()
    if mime == "image/png" and not verified:
        _verify_png(data)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return ImageInfo(mime, width, height, orientation, len(data))


# IEND carries no data, so its chunk (with its CRC) is always these 12 bytes.
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _verify_png(data: bytes) -> None:
    """Walk the PNG chunks and CRCs (no inflation): catches truncated or damaged files cheaply.

    Pillow's ``verify`` stops at IEND without reading IEND's own CRC, so a file cut inside its
    last 4 bytes is caught by looking for the whole IEND chunk.
    """
    try:
        with Image.open(io.BytesIO(data), formats=("PNG",)) as img:
            img.verify()
    except Exception as exc:
        raise ImageRejected("corrupt", f"corrupt PNG image: {exc or type(exc).__name__}") from None
    if _PNG_IEND not in data[-4096:]:
        raise ImageRejected("corrupt", "corrupt PNG image: truncated (no complete IEND chunk)")
