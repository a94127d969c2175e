"""What is sent to Gemini: the original bytes when they will do, else an upright, smaller copy."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image

from imagejobs.core.imageinfo.decode import decode_upright, verify_decodes
from imagejobs.core.imageinfo.header import ImageInfo


@dataclass(frozen=True)
class PreparedImage:
    """The bytes actually sent to Gemini, their type and pixel size."""

    data: bytes
    mime: str
    width: int
    height: int


def prepare_for_send(
    data: bytes, info: ImageInfo, *, longest_side: int | None, verified: bool = False
) -> PreparedImage:
    """The image to send: the original bytes when already upright and small enough, else an
    upright (and downscaled so its longest side <= ``longest_side``) re-encoded copy.
    ``verified``: these very bytes (by sha256) were decoded completely before; sent as they
    are, they are not decoded again.

    JPEG stays JPEG (quality 92); other types become PNG, except opaque HEIC/HEIF -> JPEG.
    Boxes Gemini returns (0..1000) still map onto the original upright size (package docstring).
    """
    if longest_side is not None and longest_side <= 0:
        raise ValueError(f"longest_side must be positive, got {longest_side}")
    needs_scale = longest_side is not None and max(info.width, info.height) > longest_side
    if info.orientation == 1 and not needs_scale:
        if not verified:  # sent as it is: it must decode (a cut file costs a call)
            verify_decodes(data, info)
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
