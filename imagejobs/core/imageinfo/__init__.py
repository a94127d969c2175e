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

from imagejobs.core.imageinfo.decode import decode_upright, verify_decodes
from imagejobs.core.imageinfo.errors import REJECT_CODES, ImageRejected
from imagejobs.core.imageinfo.header import ImageInfo, check_upload, inspect_image
from imagejobs.core.imageinfo.send import PreparedImage, prepare_for_send
from imagejobs.core.imageinfo.sniff import SUPPORTED_MIME, describe_unsupported, sniff_mime

__all__ = [
    "REJECT_CODES",
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
