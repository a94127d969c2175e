"""Check uploaded images by their content, read their upright size, and prepare what is sent.

Nothing here trusts a file name or a declared content type: the type comes from the magic bytes
and the size from a header-only read (``Image.open`` is lazy and nothing calls ``.load()`` until
``decode_upright`` / ``prepare_for_send``).

``check_upload`` is what every entry point checks before a job is queued (empty, too large, type
by content); ``inspect_image`` starts with it. ``prepare_for_send`` never returns bytes that do
not decode completely: an image it re-encodes was decoded, and one it passes through unchanged
is verified first, as cheaply as its format allows (``verify_decodes``).

Orientation rules (applied exactly once):

* JPEG / WEBP / PNG: the EXIF ``Orientation`` tag (1..8) is reported in ``ImageInfo.orientation``
  and ``width``/``height`` are the upright size (swapped for 5..8). ``decode_upright`` applies the
  transform by hand from ``ImageInfo.orientation`` (never from whatever EXIF a later full decode
  finds), so a tag seen only after decoding cannot cause a second rotation.
* HEIC / HEIF: pillow-heif (checked on 1.8.1) lets libheif apply the container's ``irot``/``imir``
  transforms while decoding, reports the already transformed size from ``Image.open`` and resets
  the EXIF orientation tag to 1 (keeping the old value in ``info["original_orientation"]``;
  when saving it turns EXIF orientation into ``irot``/``imir``). So HEIF images are already
  upright and their ``orientation`` is always 1.

Gemini returns boxes normalised to 0..1000 of the image it saw. ``prepare_for_send`` only ever
sends the upright image or a uniformly downscaled copy of it, so normalised boxes map straight
onto the ORIGINAL upright ``ImageInfo.width`` x ``ImageInfo.height`` (downscaling changes no
proportions beyond rounding of a pixel).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import pillow_heif
from PIL import Image

pillow_heif.register_heif_opener()

SUPPORTED_MIME = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
SUPPORTED_NAMES = "PNG, JPEG, WEBP, HEIC, HEIF"

REJECT_CODES = (
    "unsupported_type",
    "corrupt",
    "too_large",
    "too_many_pixels",
    "decompression_bomb",
    "empty",
)

_PIL_FORMATS = {
    "image/png": ("PNG",),
    "image/jpeg": ("JPEG",),
    "image/webp": ("WEBP",),
    "image/heic": ("HEIF",),
    "image/heif": ("HEIF",),
}

_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"}
_HEIF_BRANDS = {b"mif1", b"msf1", b"heif"}
_AVIF_BRANDS = {b"avif", b"avis"}

_EXIF_ORIENTATION = 0x0112

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


class ImageRejected(ValueError):
    """An image the service refuses; ``code`` says why, the message says what was wrong."""

    def __init__(self, code: str, message: str) -> None:
        if code not in REJECT_CODES:
            raise ValueError(f"unknown ImageRejected code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message


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


@dataclass(frozen=True)
class PreparedImage:
    """The bytes actually sent to Gemini, their type and pixel size."""

    data: bytes
    mime: str
    width: int
    height: int


# Sniffing -------------------------------------------------------------------------------------


def _ftyp_brands(data: bytes) -> list[bytes]:
    """Major and compatible brands of an ISO-BMFF ``ftyp`` box at the start of ``data``."""
    if len(data) < 12 or data[4:8] != b"ftyp":
        return []
    box_size = int.from_bytes(data[0:4], "big")
    end = min(box_size if box_size >= 16 else 16, len(data))
    brands = [data[8:12]]
    brands.extend(data[i : i + 4] for i in range(16, end - 3, 4))
    return brands


def sniff_mime(data: bytes) -> str | None:
    """The supported image MIME type named by ``data``'s magic bytes, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[0:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    brands = _ftyp_brands(data)
    if brands:
        if any(b in _HEIC_BRANDS for b in brands):
            return "image/heic"
        if any(b in _AVIF_BRANDS for b in brands):
            return None  # AVIF shares mif1 but is not accepted by Gemini
        if any(b in _HEIF_BRANDS for b in brands):
            return "image/heif"
    return None


def describe_unsupported(data: bytes) -> str:
    """A short human name for what ``data`` looks like (used in refusal messages)."""
    head = data[:64]
    stripped = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    checks: list[tuple[bool, str]] = [
        (len(data) == 0, "empty data"),
        (head.startswith((b"GIF87a", b"GIF89a")), "GIF"),
        (head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")), "TIFF"),
        (head.startswith(b"8BPS"), "PSD"),
        (head.startswith((b"%!PS", b"\xc5\xd0\xd3\xc6")), "EPS/PostScript"),
        (head.startswith(b"%PDF"), "PDF"),
        (head.startswith(b"BM"), "BMP"),
        (head.startswith(b"\x00\x00\x01\x00"), "ICO"),
        (head.startswith(b"\x00\x00\x00\x0cjP  "), "JPEG 2000"),
        (head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL ")), "JPEG XL"),
        (any(b in _AVIF_BRANDS for b in _ftyp_brands(data)), "AVIF"),
        (head[4:8] == b"ftyp", "ISO media (video or other non-image)"),
        (head.startswith(b"RIFF"), "RIFF (not WEBP)"),
        (head.startswith(b"PK\x03\x04"), "ZIP archive"),
        (head.startswith(b"\x1f\x8b"), "gzip data"),
        (b"<svg" in stripped[:512], "SVG"),
        (stripped.startswith(b"<?xml"), "XML"),
        (stripped.startswith((b"<!doctype html", b"<html")), "HTML"),
        (stripped.startswith((b"{", b"[")), "JSON/text"),
    ]
    for matched, name in checks:
        if matched:
            return name
    sample = data[:512]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
        # A multi-byte character cut at the sample's end is still text.
        for cut in range(1, 4):
            try:
                text = sample[:-cut].decode("utf-8")
                break
            except UnicodeDecodeError:
                continue
    if text and all(c.isprintable() or c in "\r\n\t" for c in text):
        return "text"
    return "unknown binary data"


# Inspection -----------------------------------------------------------------------------------


def _exif_orientation(img: Image.Image, mime: str) -> int:
    """EXIF orientation known from the header alone (1 when absent, odd or HEIF)."""
    if mime in ("image/heic", "image/heif"):
        return 1  # pillow-heif already applied irot/imir and reset EXIF to 1 (module docstring)
    if "exif" not in img.info:
        return 1  # PNG getexif() would decode the whole file to look for a late eXIf chunk
    try:
        value = img.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # malformed EXIF: ignore it rather than refuse the image
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSE else 1


def _open_header(data: bytes, mime: str) -> Image.Image:
    """``Image.open`` (header only) with PIL's bomb check turned into ImageRejected."""
    with warnings.catch_warnings():
        # Our own max_pixels limit governs; PIL's warning threshold is not configurable per call.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data), formats=_PIL_FORMATS[mime])
        except Image.DecompressionBombError as exc:
            raise ImageRejected(
                "decompression_bomb", f"image refused as a decompression bomb: {exc}"
            ) from None
        except Exception as exc:
            raise ImageRejected(
                "corrupt", f"corrupt {_short(mime)} image: cannot read its header ({exc})"
            ) from None


def _short(mime: str) -> str:
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


def inspect_image(data: bytes, *, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Check ``data`` by content and read its upright size without decoding pixels.

    Raises ImageRejected (code empty / too_large / unsupported_type / corrupt / too_many_pixels /
    decompression_bomb). Header reads cannot find every corruption (a cut JPEG, WEBP or HEIC
    has a perfect header): ``verify_decodes`` / ``decode_upright`` report the rest.
    """
    mime = check_upload(data, max_bytes=max_bytes)
    img = _open_header(data, mime)
    try:
        width, height = img.size
        if width <= 0 or height <= 0:
            raise ImageRejected("corrupt", f"corrupt {_short(mime)} image: size {width}x{height}")
        if width * height > max_pixels:
            raise ImageRejected(
                "too_many_pixels",
                f"image is {width}x{height} = {width * height:,} pixels; "
                f"the limit is {max_pixels:,} pixels",
            )
        orientation = _exif_orientation(img, mime)
    finally:
        img.close()
    if mime == "image/png":
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


# Decoding -------------------------------------------------------------------------------------


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
            img: Image.Image = Image.open(io.BytesIO(data), formats=_PIL_FORMATS[info.mime])
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
            "corrupt", f"corrupt {_short(info.mime)} image: decoding failed ({exc})"
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


def prepare_for_send(data: bytes, info: ImageInfo, *, longest_side: int | None) -> PreparedImage:
    """The image to send: the original bytes when already upright and small enough, else an
    upright (and downscaled so its longest side <= ``longest_side``) re-encoded copy.

    JPEG stays JPEG (quality 92); other types become PNG, except opaque HEIC/HEIF -> JPEG.
    Boxes Gemini returns (0..1000) still map onto the original upright size (module docstring).
    """
    if longest_side is not None and longest_side <= 0:
        raise ValueError(f"longest_side must be positive, got {longest_side}")
    needs_scale = longest_side is not None and max(info.width, info.height) > longest_side
    if info.orientation == 1 and not needs_scale:
        verify_decodes(data, info)  # sent as it is: it must decode (a cut file costs a call)
        return PreparedImage(data, info.mime, info.width, info.height)
    target = (info.width, info.height)
    if needs_scale and longest_side is not None:
        scale = longest_side / max(info.width, info.height)
        target = (
            max(1, round(info.width * scale)),
            max(1, round(info.height * scale)),
        )
    img: Image.Image = decode_upright(data, info, draft_size=target if needs_scale else None)
    if img.size != target:
        img = img.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    has_alpha = img.mode == "RGBA"
    as_jpeg = info.mime == "image/jpeg" or (
        info.mime in ("image/heic", "image/heif") and not has_alpha
    )
    out = io.BytesIO()
    if as_jpeg:
        if img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
        img.save(out, format="JPEG", quality=92)
        mime = "image/jpeg"
    else:
        img.save(out, format="PNG")
        mime = "image/png"
    return PreparedImage(out.getvalue(), mime, img.width, img.height)


__all__ = [
    "SUPPORTED_MIME",
    "ImageInfo",
    "ImageRejected",
    "PreparedImage",
    "check_upload",
    "decode_upright",
    "describe_unsupported",
    "inspect_image",
    "prepare_for_send",
    "sniff_mime",
    "verify_decodes",
]
