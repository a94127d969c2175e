"""An image's type by its content (magic bytes), and a name for what unsupported data looks like."""

from __future__ import annotations

SUPPORTED_MIME = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
SUPPORTED_NAMES = "PNG, JPEG, WEBP, HEIC, HEIF"

_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"}
_HEIF_BRANDS = {b"mif1", b"msf1", b"heif"}
_AVIF_BRANDS = {b"avif", b"avis"}


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
