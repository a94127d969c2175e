"""The small named colour palette shared by the scene generator and the emulator's analysis.

Colours are named by nearest RGB (Euclidean distance), so a scene drawn with these exact values
is always named back correctly, and a JPEG-noisy pixel lands on the same name.
"""

from __future__ import annotations

import numpy as np

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (230, 25, 25),
    "green": (40, 170, 60),
    "blue": (30, 60, 220),
    "yellow": (245, 220, 30),
    "cyan": (30, 210, 220),
    "magenta": (220, 40, 200),
    "orange": (250, 140, 20),
    "purple": (120, 40, 160),
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "gray": (128, 128, 128),
    "brown": (130, 80, 40),
    "pink": (250, 160, 190),
}

COLOUR_NAMES: tuple[str, ...] = tuple(PALETTE)
_PALETTE_ARRAY = np.array([PALETTE[name] for name in COLOUR_NAMES], dtype=np.int32)


def colour_name(rgb: tuple[int, int, int] | np.ndarray) -> str:
    """Name of the palette colour nearest to ``rgb``."""
    diff = _PALETTE_ARRAY - np.asarray(rgb, dtype=np.int32).reshape(1, 3)
    return COLOUR_NAMES[int(np.argmin((diff * diff).sum(axis=1)))]


def nearest_indices(pixels: np.ndarray) -> np.ndarray:
    """Palette index of every pixel in an ``(N, 3)`` array."""
    diff = pixels.astype(np.int32)[:, None, :] - _PALETTE_ARRAY[None, :, :]
    return np.asarray(np.argmin((diff * diff).sum(axis=2), axis=1))
