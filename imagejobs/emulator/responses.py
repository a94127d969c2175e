"""The emulator's answer text for each task, from the measured image analysis.

JSON mode (``responseMimeType: application/json``) returns bare JSON shaped by the schema when
one is given; otherwise detection/segmentation JSON is wrapped in a ```json fence the way
Gemini 2.x usually answers, and captions are prose starting with ``[imagejobs emulator]``.

Segmentation masks take the shape of the model's family (``Family.mask_shape``): a 256x256 PNG
probability map of the box (2.5), a polygon of ``[y, x]`` points on 0..1000 of the image (3.x,
the convex hull of the region, in the family's ``polygon_axis_default`` order), sixteen
``<seg_N>`` tokens when the ``seg_token_rate`` fault says so (PNG families only), and no mask
at all for families that cannot segment (2.0).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import numpy as np

from imagejobs.core.jobspec import SPATIAL_TASKS
from imagejobs.core.model_facts import Family
from imagejobs.core.models import family as family_by_key
from imagejobs.emulator.analysis import DetectedObject, ImageAnalysis
from imagejobs.emulator.intent import classification_labels, decide_task, requested_filter
from imagejobs.emulator.request import GenerateRequest

PREFIX = "[imagejobs emulator]"


SEG_TOKENS_PER_MASK = 16


def answer_text(
    request: GenerateRequest,
    analyses: list[ImageAnalysis],
    family: Family | None = None,
    *,
    seg_tokens: bool = False,
) -> str:
    """The model text for ``request`` given one analysis per image (in order)."""
    if not analyses:
        return _text_only(request)
    task = decide_task(request)
    if task in SPATIAL_TASKS:
        fam = family or family_by_key("gemini-2.5-flash")
        shape = None if task == "detect" else fam.mask_shape
        if shape == "png" and seg_tokens:
            shape = "seg_tokens"
        return _spatial(request, analyses[0], shape, fam.polygon_axis_default)
    if task == "classify":
        return _classify(request, analyses[0])
    if task == "compare":
        return _compare(request, analyses)
    return _caption(request, analyses[0])


# Detection and segmentation ----------------------------------------------------------------


def selected_objects(request: GenerateRequest, analysis: ImageAnalysis) -> list[DetectedObject]:
    colours, shapes = requested_filter(request)
    return [
        obj
        for obj in analysis.objects
        if (not colours or obj.color_name in colours) and (not shapes or obj.shape in shapes)
    ]


def _spatial(
    request: GenerateRequest, analysis: ImageAnalysis, mask_shape: str | None, axis: str
) -> str:
    items: list[dict[str, Any]] = []
    for obj in selected_objects(request, analysis):
        item: dict[str, Any] = {"box_2d": obj.box_2d(analysis.width, analysis.height)}
        if mask_shape == "png":
            item["mask"] = obj.mask_data_url()
        elif mask_shape == "seg_tokens":
            item["mask"] = seg_token_mask(obj)
        elif mask_shape == "polygon":
            item["mask"] = polygon_mask(obj, analysis.width, analysis.height, axis)
        item["label"] = obj.label
        items.append(item)
    if request.json_mode:
        return json.dumps(items)
    lines = ",\n".join("  " + json.dumps(item) for item in items)
    body = f"[\n{lines}\n]" if items else "[]"
    return f"```json\n{body}\n```"


def polygon_mask(obj: DetectedObject, width: int, height: int, axis: str = "yx") -> list[list[int]]:
    """The region's convex hull as points on 0..1000 of the image, ``[y, x]`` (or ``[x, y]``)."""
    rows = np.flatnonzero(obj.mask.any(axis=1))
    first = obj.mask[rows].argmax(axis=1)
    last = obj.mask.shape[1] - 1 - obj.mask[rows, ::-1].argmax(axis=1)
    x0, y0 = obj.box[0], obj.box[1]
    # Pixel-edge corners of each row's first and last pixel: their hull is the region's hull.
    corners = np.concatenate(
        [
            np.column_stack((first + x0, rows + y0)),
            np.column_stack((first + x0, rows + y0 + 1)),
            np.column_stack((last + x0 + 1, rows + y0)),
            np.column_stack((last + x0 + 1, rows + y0 + 1)),
        ]
    )
    hull = _convex_hull(corners)
    points: list[list[int]] = []
    for x, y in hull:
        ny, nx = round(y * 1000 / height), round(x * 1000 / width)
        point = [ny, nx] if axis == "yx" else [nx, ny]
        if not points or points[-1] != point:
            points.append(point)
    return points


def _convex_hull(points: np.ndarray) -> list[tuple[int, int]]:
    """Andrew's monotone chain over unique (x, y) points, counter-clockwise."""
    unique = sorted({(int(x), int(y)) for x, y in points})
    if len(unique) < 3:
        return unique

    def cross(o: tuple[int, int], a: tuple[int, int], b: tuple[int, int]) -> int:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[int, int]] = []
    for p in unique:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[tuple[int, int]] = []
    for p in reversed(unique):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def seg_token_mask(obj: DetectedObject) -> str:
    """Sixteen ``<seg_N>`` tokens (deterministic per mask), as some 2.5 releases answer."""
    digest = hashlib.sha256(np.packbits(obj.mask).tobytes()).digest()
    tokens = "".join(f"<seg_{b % 128}>" for b in digest[:SEG_TOKENS_PER_MASK])
    return "<start_of_mask>" + tokens


# Classification ----------------------------------------------------------------------------


def _vocabulary(analysis: ImageAnalysis) -> set[str]:
    words = {analysis.background_name}
    for obj in analysis.objects:
        words.update((obj.color_name, obj.shape))
    words.update(name for name, share in analysis.dominant_colors if share >= 0.02)
    if not analysis.objects:
        words.update(("empty", "blank", "plain", "none"))
    if "ellipse" in words:
        words.update(("circle", "oval", "round"))
    if "rectangle" in words:
        words.update(("square", "box", "rectangular"))
    return words


def rank_labels(labels: list[str], analysis: ImageAnalysis) -> tuple[str, list[str]]:
    """(best label, all labels that match what was measured) — ties go to the earlier label."""
    vocabulary = _vocabulary(analysis)

    def score(label: str) -> int:
        words = re.findall(r"[a-z]+", label.lower())
        return sum(1 for w in words if w in vocabulary or w.rstrip("s") in vocabulary)

    scores = [score(label) for label in labels]
    best = labels[scores.index(max(scores))]
    matching = [label for label, s in zip(labels, scores, strict=True) if s > 0]
    return best, matching or [best]


def _classify(request: GenerateRequest, analysis: ImageAnalysis) -> str:
    labels = classification_labels(request)
    best, matching = rank_labels(labels, analysis)
    schema = request.response_schema
    if (request.response_mime_type or "").lower() == "text/x.enum":
        return best
    if not request.json_mode:
        return best
    if schema is None:
        return json.dumps({"labels": matching})
    return json.dumps(_fill(schema, {"labels": matching, "label": best}, best, matching))


# Captions and comparisons ------------------------------------------------------------------


def _where(obj: DetectedObject, analysis: ImageAnalysis) -> str:
    x0, y0, x1, y1 = obj.box
    cx, cy = (x0 + x1) / 2 / analysis.width, (y0 + y1) / 2 / analysis.height
    row = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else "middle"
    col = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else "centre"
    return "centre" if (row, col) == ("middle", "centre") else f"{row} {col}"


def describe(analysis: ImageAnalysis) -> str:
    """One honest sentence of measurements."""
    size = (
        f"a {analysis.width}x{analysis.height} image on "
        f"{_article(analysis.background_name)} {analysis.background_name} background"
    )
    colours = ", ".join(f"{name} {share:.0%}" for name, share in analysis.dominant_colors)
    if not analysis.objects:
        return f"{size} with no distinct regions. Dominant colours: {colours}."
    parts = [
        f"{_article(obj.label)} {obj.label} ({_where(obj, analysis)})" for obj in analysis.objects
    ]
    count = len(parts)
    noun = "region" if count == 1 else "regions"
    return f"{size} with {count} distinct {noun}: {', '.join(parts)}. Dominant colours: {colours}."


def facts(analysis: ImageAnalysis) -> dict[str, Any]:
    return {
        "width": analysis.width,
        "height": analysis.height,
        "background": analysis.background_name,
        "dominant_colors": [name for name, _ in analysis.dominant_colors],
        "object_count": len(analysis.objects),
        "objects": [
            {"label": o.label, "box_2d": o.box_2d(analysis.width, analysis.height)}
            for o in analysis.objects
        ],
    }


def _caption(request: GenerateRequest, analysis: ImageAnalysis) -> str:
    sentence = describe(analysis)
    text = f"{PREFIX} Measured, not understood: {sentence}"
    if re.search(r"\bhow many\b", request.prompt.lower()):
        text = f"{PREFIX} I count {len(analysis.objects)} distinct regions: {sentence}"
    if not request.json_mode:
        return text
    data = {"description": text, "caption": text, "answer": text, "text": text, **facts(analysis)}
    if request.response_schema is None:
        return json.dumps({"description": text, **facts(analysis)})
    return json.dumps(_fill(request.response_schema, data, text, []))


def _compare(request: GenerateRequest, analyses: list[ImageAnalysis]) -> str:
    labels = [{o.label for o in a.objects} for a in analyses]
    common = set.intersection(*labels)
    lines = [f"Image {i}: {describe(a)}" for i, a in enumerate(analyses, start=1)]
    same_size = len({(a.width, a.height) for a in analyses}) == 1
    differences = []
    if not same_size:
        sizes = ", ".join(f"{a.width}x{a.height}" for a in analyses)
        differences.append(f"sizes differ ({sizes})")
    for i, found in enumerate(labels, start=1):
        only = sorted(found - common)
        if only:
            differences.append(f"only image {i} has: {', '.join(only)}")
    summary = "; ".join(differences) if differences else "no measured differences"
    text = f"{PREFIX} Compared {len(analyses)} images by measurement. " + " ".join(lines)
    text += f" Differences: {summary}."
    if not request.json_mode:
        return text
    data = {
        "images": [facts(a) for a in analyses],
        "same_size": same_size,
        "same_objects": all(found == labels[0] for found in labels),
        "common_objects": sorted(common),
        "differences": differences,
        "summary": text,
        "description": text,
    }
    if request.response_schema is None:
        return json.dumps(data)
    return json.dumps(_fill(request.response_schema, data, text, differences))


def _text_only(request: GenerateRequest) -> str:
    read = len(request.prompt)
    return (
        f"{PREFIX} No image received; the emulator only measures images ({read} characters read)."
    )


# Schema filling ----------------------------------------------------------------------------


def _fill(schema: dict[str, Any], data: dict[str, Any], text: str, items: list[Any]) -> Any:
    """A value of ``schema``'s shape: known property names from ``data``, else type defaults."""
    kind = str(schema.get("type", "")).upper()
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return data.get("label", enum[0]) if data.get("label") in enum else enum[0]
    if kind == "OBJECT" or "properties" in schema:
        props = schema.get("properties") or {}
        return {
            name: data[name] if name in data else _fill(sub, data, text, items)
            for name, sub in props.items()
        }
    if kind == "ARRAY":
        sub = schema.get("items") or {}
        if isinstance(sub, dict) and sub.get("enum"):
            return [value for value in items if value in sub["enum"]] or [sub["enum"][0]]
        return list(items)
    if kind in ("INTEGER", "NUMBER"):
        return 0
    if kind == "BOOLEAN":
        return False
    return text


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"
