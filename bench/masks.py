"""Benchmark: vectorised ``decode_mask`` vs the cookbook's per-pixel loop on the same response.

Builds a realistic segmentation response (25 objects, 256x256 PNG probability maps, on a
1920x1080 image), parses it the way the worker does, decodes every mask both ways in one run,
checks that both give identical masks and prints the timings and the speed-up.

Run: .venv/bin/python bench/masks.py [--objects 25] [--width 1920] [--height 1080] [--seed 7]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imagejobs.core.geometry import box_2d_to_pixels
from imagejobs.core.masks import (
    DecodedMask,
    decode_mask,
    place_mask,
    reference_decode_mask,
)
from imagejobs.core.parsing import parse_items, parse_model_output


def probability_map(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """A blob-shaped 0..255 map with soft edges, like Gemini's masks."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1) * 2 - 1
    cy, cx = rng.uniform(-0.2, 0.2, size=2)
    ry, rx = rng.uniform(0.5, 0.95, size=2)
    wobble = 0.12 * np.sin(rng.uniform(2, 6) * np.arctan2(yy - cy, xx - cx))
    dist = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2) + wobble
    return np.clip((1.15 - dist) * 4 * 255, 0, 255).astype(np.uint8)


def build_response(objects: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    items = []
    for index in range(objects):
        h, w = rng.integers(80, 450), rng.integers(80, 450)
        y0, x0 = rng.integers(0, 1000 - h), rng.integers(0, 1000 - w)
        out = io.BytesIO()
        Image.fromarray(probability_map(rng), "L").save(out, format="PNG")
        items.append(
            {
                "box_2d": [int(y0), int(x0), int(y0 + h), int(x0 + w)],
                "mask": "data:image/png;base64," + base64.b64encode(out.getvalue()).decode(),
                "label": f"object {index}",
            }
        )
    return "```json\n" + json.dumps(items, indent=2) + "\n```"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=25)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    width, height = args.width, args.height

    text = build_response(args.objects, args.seed)
    items = parse_items(parse_model_output(text, "STOP")).items
    boxes = [box_2d_to_pixels(item.box_2d, width, height) for item in items]
    pixels = sum(b.width * b.height for b in boxes)
    print(
        f"response: {len(items)} objects, {len(text) / 1e6:.2f} MB of text, "
        f"{width}x{height} image, {pixels:,} box pixels"
    )

    start = time.perf_counter()
    fast = [
        decode_mask(item.mask, box, width, height) for item, box in zip(items, boxes, strict=True)
    ]
    fast_s = time.perf_counter() - start

    start = time.perf_counter()
    slow = [
        reference_decode_mask(str(i.mask), b, width, height)
        for i, b in zip(items, boxes, strict=True)
    ]
    slow_s = time.perf_counter() - start

    identical = True
    for decoded, box, reference in zip(fast, boxes, slow, strict=True):
        if not isinstance(decoded, DecodedMask):
            identical = False
            continue
        identical &= bool(np.array_equal(place_mask(decoded.mask, box, width, height), reference))

    print(f"decode_mask (vectorised):     {fast_s * 1000:9.1f} ms")
    print(f"reference (per-pixel loop):   {slow_s * 1000:9.1f} ms")
    print(f"speed-up:                     {slow_s / fast_s:9.1f}x")
    print(f"identical masks:              {identical}")
    if not identical:
        raise SystemExit("masks differ between decode_mask and the reference")


if __name__ == "__main__":
    main()
