"""The bench's images: a photo-like 1 MP JPEG, a tiny PNG, and distinct ~2 MB JPEGs."""

from __future__ import annotations

import functools
import io

import numpy as np
from PIL import Image

from imagejobs.emulator.scenes import random_scene


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


@functools.cache
def photo_1mp() -> bytes:
    """1000 x 1000 JPEG (quality 90): shapes with sensor-like noise, about 250 KB like a photo
    (a flat synthetic scene would be 25 KB and make the bytes the SDK encodes unrealistic)."""
    scene = random_scene(11, 1000, 1000, 4)
    pixels = np.asarray(scene.image).astype(np.int16)
    noise = np.random.default_rng(11).integers(-12, 13, pixels.shape, dtype=np.int16)
    return _jpeg(Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8)), 90)


@functools.cache
def tiny_png() -> bytes:
    """64 x 64 PNG: the image of the in-flight and throughput batches (the call is the load)."""
    return random_scene(7, 64, 64, 2).encode("PNG")


def noisy_2mb(seed: int) -> bytes:
    """1400 x 1000 JPEG of noise at quality 97: about 1.96 MB, different for every seed."""
    pixels = np.random.default_rng(seed).integers(0, 256, (1000, 1400, 3), dtype=np.uint8)
    return _jpeg(Image.fromarray(pixels), 97)
