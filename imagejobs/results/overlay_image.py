"""Overlay PNGs: a job's boxes and masks drawn on its upright original image."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PILImage

from imagejobs.core.geometry import PixelBox
from imagejobs.core.imageinfo import decode_upright, inspect_image
from imagejobs.core.overlay import draw_overlay
from imagejobs.store.blobs import BlobStore
from imagejobs.store.db import Database
from imagejobs.store.views import image_marks


class OverlayUnavailable(LookupError):
    """The job has no such image, or its image was never stored."""


def render_overlay(db: Database, blobs: BlobStore, job_id: str, position: int = 0) -> bytes:
    with db.session() as session:
        marks = image_marks(session, job_id, position)
    if marks is None:
        raise OverlayUnavailable(f"job {job_id} has no stored image {position}")
    sha256, detections, masks = marks
    data = blobs.get(sha256)
    info = inspect_image(data, max_bytes=len(data) + 1, max_pixels=10**10)
    image = decode_upright(data, info)
    mask_items = []
    for mask in masks:
        if mask.mask_png is None:
            continue
        pixels = np.asarray(PILImage.open(io.BytesIO(mask.mask_png)).convert("L")) > 0
        mask_items.append((mask.label, PixelBox(mask.x0, mask.y0, mask.x1, mask.y1), pixels))
    boxes = [] if mask_items else [(d.label, PixelBox(d.x0, d.y0, d.x1, d.y1)) for d in detections]
    drawn = draw_overlay(image, boxes, mask_items)
    out = io.BytesIO()
    drawn.save(out, format="PNG")
    return out.getvalue()
