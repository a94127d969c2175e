"""Content sniffing, header-only inspection, orientation and send preparation of images."""

from __future__ import annotations

import io
import struct
import zlib

import pillow_heif
import pytest
from PIL import Image

from imagejobs.core.imageinfo import (
    SUPPORTED_MIME,
    ImageInfo,
    ImageRejected,
    decode_upright,
    describe_unsupported,
    inspect_image,
    prepare_for_send,
    sniff_mime,
)

pillow_heif.register_heif_opener()

LIMITS = {"max_bytes": 10_000_000, "max_pixels": 50_000_000}
RED, BLUE = (255, 0, 0), (0, 0, 255)


def quadrant_image(width: int = 80, height: int = 40) -> Image.Image:
    """Red image with a blue block in the top-left quarter (survives lossy codecs)."""
    img = Image.new("RGB", (width, height), RED)
    img.paste(BLUE, (0, 0, width // 2, height // 2))
    return img


def encode(img: Image.Image, fmt: str, orientation: int | None = None, **kw: object) -> bytes:
    out = io.BytesIO()
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw["exif"] = exif.tobytes()
    img.save(out, format=fmt, **kw)
    return out.getvalue()


def is_blue(pixel: object) -> bool:
    assert isinstance(pixel, tuple), pixel
    return pixel[2] > 180 and pixel[0] < 80


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` with a tiny bogus IDAT (cheap to build)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00" * 16


# Sniffing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("HEIF", "image/heic")],
)
def test_sniff_real_encodings(fmt: str, mime: str) -> None:
    data = encode(quadrant_image(), fmt)
    assert sniff_mime(data) == mime
    assert mime in SUPPORTED_MIME


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
        (ftyp(b"mif1", b"heix"), "image/heic"),
        (ftyp(b"hevc", b"msf1"), "image/heic"),
        (ftyp(b"mif1", b"miaf"), "image/heif"),
        (ftyp(b"msf1"), "image/heif"),
        (ftyp(b"heif"), "image/heif"),
        (ftyp(b"avif", b"mif1", b"miaf"), None),
        (ftyp(b"isom", b"mp41"), None),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"\xff\xd8", None),
        (b"", None),
    ],
)
def test_sniff_brands_and_near_misses(data: bytes, mime: str | None) -> None:
    assert sniff_mime(data) == mime


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (encode(quadrant_image(), "GIF"), "GIF"),
        (encode(quadrant_image(), "TIFF"), "TIFF"),
        (encode(quadrant_image(), "BMP"), "BMP"),
        (b"8BPS\x00\x01" + b"\x00" * 40, "PSD"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "EPS/PostScript"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
        (b"<svg width='10' height='10'></svg>", "SVG"),
        (b'<?xml version="1.0"?><root/>', "XML"),
        (b"%PDF-1.7\n1 0 obj", "PDF"),
        (b"just some plain text, not an image\n", "text"),
        (ftyp(b"avif", b"mif1"), "AVIF"),
        (bytes(range(256)) * 2, "unknown binary data"),
    ],
)
def test_unsupported_types_are_refused_by_content(data: bytes, name: str) -> None:
    assert describe_unsupported(data) == name
    with pytest.raises(ImageRejected) as err:
        inspect_image(data, **LIMITS)
    assert err.value.code == "unsupported_type"
    assert f"unsupported image type {name} (by content)" in str(err.value)
    assert "supported: PNG, JPEG, WEBP, HEIC, HEIF" in str(err.value)


def test_empty_and_too_large() -> None:
    with pytest.raises(ImageRejected) as err:
        inspect_image(b"", **LIMITS)
    assert err.value.code == "empty"
    data = encode(quadrant_image(), "PNG")
    with pytest.raises(ImageRejected) as err:
        inspect_image(data, max_bytes=len(data) - 1, max_pixels=10**9)
    assert err.value.code == "too_large"
    assert f"image is {len(data)} bytes; the limit is {len(data) - 1} bytes" in str(err.value)


# Inspection ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "HEIF"])
def test_inspect_plain_images(fmt: str) -> None:
    data = encode(quadrant_image(80, 40), fmt)
    info = inspect_image(data, **LIMITS)
    assert (info.width, info.height, info.orientation, info.size_bytes) == (80, 40, 1, len(data))


@pytest.mark.parametrize(("orientation", "blue_corner"), [(6, "top_right"), (8, "bottom_left")])
@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_exif_rotation_applied_once(orientation: int, blue_corner: str, fmt: str) -> None:
    data = encode(quadrant_image(80, 40), fmt, orientation=orientation, quality=95)
    info = inspect_image(data, **LIMITS)
    assert (info.width, info.height, info.orientation) == (40, 80, orientation)

    img = decode_upright(data, info)
    assert img.size == (40, 80)
    corners = {
        "top_left": (5, 5),
        "top_right": (34, 5),
        "bottom_left": (5, 74),
        "bottom_right": (34, 74),
    }
    for name, xy in corners.items():
        assert is_blue(img.getpixel(xy)) == (name == blue_corner), name

    sent = prepare_for_send(data, info, longest_side=None)
    assert (sent.width, sent.height) == (40, 80)
    resent = inspect_image(sent.data, **LIMITS)
    # The sent copy is upright and carries no orientation: nothing would rotate it again.
    assert (resent.width, resent.height, resent.orientation) == (40, 80, 1)
    assert is_blue(decode_upright(sent.data, resent).getpixel(corners[blue_corner]))


def test_heic_orientation_is_applied_by_pillow_heif_exactly_once() -> None:
    # pillow-heif turns EXIF orientation 6 into irot on save and applies it on decode.
    data = encode(quadrant_image(80, 40), "HEIF", orientation=6, quality=95)
    assert sniff_mime(data) == "image/heic"
    info = inspect_image(data, **LIMITS)
    assert (info.width, info.height, info.orientation) == (40, 80, 1)
    img = decode_upright(data, info)
    assert img.size == (40, 80)
    assert is_blue(img.getpixel((34, 5)))
    assert not is_blue(img.getpixel((5, 5)))
    assert prepare_for_send(data, info, longest_side=None).data is data


def test_decompression_bomb_refused_from_header() -> None:
    data = png_header_only(100_000, 100_000)
    assert len(data) < 200
    with pytest.raises(ImageRejected) as err:
        inspect_image(data, max_bytes=10_000, max_pixels=10**12)
    assert err.value.code == "decompression_bomb"


def test_too_many_pixels_refused_before_any_decode() -> None:
    # The bogus IDAT would fail any decode or verify: refusal by size proves none happened.
    data = png_header_only(3000, 2000)
    with pytest.raises(ImageRejected) as err:
        inspect_image(data, max_bytes=10_000, max_pixels=5_000_000)
    assert err.value.code == "too_many_pixels"
    assert "3000x2000" in str(err.value)


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_png_is_corrupt(cut: float) -> None:
    data = encode(quadrant_image(200, 100), "PNG")
    with pytest.raises(ImageRejected) as err:
        inspect_image(data[: int(len(data) * cut)], **LIMITS)
    assert err.value.code == "corrupt"


def test_header_garbage_is_corrupt() -> None:
    with pytest.raises(ImageRejected) as err:
        inspect_image(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, **LIMITS)
    assert err.value.code == "corrupt"
    assert "PNG" in str(err.value)


def photo(width: int = 300, height: int = 200) -> Image.Image:
    """Noise: every codec has to spend bytes on it, so a cut lands in the pixel data."""
    return Image.effect_noise((width, height), 60).convert("RGB")


TRUNCATABLE = [
    ("PNG", {}),
    ("JPEG", {}),
    ("JPEG", {"progressive": True}),
    ("WEBP", {}),
    ("WEBP", {"lossless": True}),
    ("HEIF", {}),
]


@pytest.mark.parametrize(("fmt", "options"), TRUNCATABLE)
@pytest.mark.parametrize("keep", [0.5, 0.9, -2])
def test_truncated_images_are_refused_before_sending(
    fmt: str, options: dict[str, object], keep: float
) -> None:
    """Whatever the format, a cut file never reaches Gemini, upright and small or not."""
    data = encode(photo(), fmt, None, **options)
    short = data[: int(len(data) * keep)] if keep > 0 else data[: int(keep)]
    with pytest.raises(ImageRejected) as err:
        info = inspect_image(short, **LIMITS)
        prepare_for_send(short, info, longest_side=None)
    assert err.value.code == "corrupt"
    assert _mime_name(fmt) in str(err.value)


def _mime_name(fmt: str) -> str:
    return "HEIC" if fmt == "HEIF" else fmt


@pytest.mark.parametrize(
    ("fmt", "mode", "options"),
    [
        ("PNG", "RGB", {}),
        ("PNG", "RGBA", {}),
        ("PNG", "P", {}),
        ("PNG", "L", {"optimize": True}),
        ("JPEG", "RGB", {}),
        ("JPEG", "RGB", {"progressive": True}),
        ("JPEG", "L", {}),
        ("JPEG", "CMYK", {}),
        ("WEBP", "RGB", {}),
        ("WEBP", "RGBA", {"lossless": True}),
        ("HEIF", "RGB", {}),
        ("HEIF", "RGBA", {}),
    ],
)
def test_good_images_of_every_type_are_sent_as_they_are(
    fmt: str, mode: str, options: dict[str, object]
) -> None:
    data = encode(photo().convert(mode), fmt, None, **options)
    info = inspect_image(data, **LIMITS)
    sent = prepare_for_send(data, info, longest_side=None)
    assert sent.data is data
    assert (sent.width, sent.height) == (300, 200)


def test_a_damaged_jpeg_is_refused_even_when_downscaled() -> None:
    """The reduced-scale (draft) decode of the downscale path still reads every byte."""
    data = encode(photo(1200, 800), "JPEG")
    short = data[: len(data) * 3 // 4]
    info = inspect_image(short, **LIMITS)
    with pytest.raises(ImageRejected) as err:
        prepare_for_send(short, info, longest_side=100)
    assert err.value.code == "corrupt"


# Preparation ---------------------------------------------------------------------------------


def test_prepare_keeps_original_bytes_when_nothing_to_do() -> None:
    data = encode(quadrant_image(80, 40), "WEBP")
    info = inspect_image(data, **LIMITS)
    sent = prepare_for_send(data, info, longest_side=80)
    assert sent.data is data
    assert (sent.mime, sent.width, sent.height) == ("image/webp", 80, 40)


@pytest.mark.parametrize(
    ("fmt", "mime_out"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/png"), ("HEIF", "image/jpeg")],
)
def test_prepare_downscales_longest_side(fmt: str, mime_out: str) -> None:
    data = encode(quadrant_image(400, 200), fmt)
    info = inspect_image(data, **LIMITS)
    sent = prepare_for_send(data, info, longest_side=100)
    assert (sent.mime, sent.width, sent.height) == (mime_out, 100, 50)
    check = inspect_image(sent.data, **LIMITS)
    assert (check.mime, check.width, check.height) == (mime_out, 100, 50)
    img = decode_upright(sent.data, check)
    assert is_blue(img.getpixel((10, 10)))
    assert not is_blue(img.getpixel((90, 40)))


def test_prepare_rejects_bad_longest_side() -> None:
    data = encode(quadrant_image(), "PNG")
    with pytest.raises(ValueError, match="longest_side"):
        prepare_for_send(data, inspect_image(data, **LIMITS), longest_side=0)


def test_palette_and_alpha_modes_decode_sensibly() -> None:
    rgba = Image.new("RGBA", (20, 10), (0, 255, 0, 128))
    info = inspect_image(encode(rgba, "PNG"), **LIMITS)
    assert decode_upright(encode(rgba, "PNG"), info).mode == "RGBA"
    pal = quadrant_image(20, 10).convert("P")
    data = encode(pal, "PNG")
    assert decode_upright(data, inspect_image(data, **LIMITS)).mode == "RGB"


def test_image_info_is_frozen() -> None:
    info = ImageInfo("image/png", 1, 1, 1, 10)
    with pytest.raises(AttributeError):
        info.width = 2  # type: ignore[misc]
