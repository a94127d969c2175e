"""What the pre-send image check costs, per megapixel and per format (prints its figures).

``prepare_for_send`` verifies that an image it passes through unchanged decodes completely
(``imagejobs.core.imageinfo.verify_decodes``); this times that check against a full decode on a
photo-like image. Run: ``.venv/bin/python bench/image_check.py [megapixels]``.
"""

from __future__ import annotations

import io
import sys
import time

import numpy as np
from PIL import Image

from imagejobs.core.imageinfo import decode_upright, inspect_image, verify_decodes

FORMATS = [("PNG", {}), ("JPEG", {"quality": 90}), ("WEBP", {"quality": 90}), ("HEIF", {})]


def photo(megapixels: float) -> Image.Image:
    """Smooth gradients plus noise: compresses like a photo, not like flat colour."""
    width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
    height = int(width * 3 / 4)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)], -1)
    noise = np.random.default_rng(0).integers(-20, 20, base.shape)
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")


def best_of(fn: object, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main(megapixels: float) -> None:
    img = photo(megapixels)
    mp = img.width * img.height / 1e6
    print(f"image {img.width}x{img.height} ({mp:.1f} MP), best of 3, one core")
    print(f"{'format':<6} {'bytes':>11} {'header':>12} {'check':>12} {'full decode':>12}")
    for fmt, options in FORMATS:
        out = io.BytesIO()
        img.save(out, format=fmt, **options)
        data = out.getvalue()
        limits = {"max_bytes": len(data) + 1, "max_pixels": 10**9}
        info = inspect_image(data, **limits)
        header = best_of(lambda: inspect_image(data, **limits))  # noqa: B023
        check = best_of(lambda: verify_decodes(data, info))  # noqa: B023
        full = best_of(lambda: decode_upright(data, info))  # noqa: B023
        print(
            f"{fmt:<6} {len(data):>11,} {header * 1e3 / mp:>8.2f} ms/MP {check * 1e3 / mp:>6.2f} "
            f"ms/MP {full * 1e3 / mp:>6.2f} ms/MP"
        )


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 12.0)
