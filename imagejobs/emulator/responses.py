"""The emulator's answer text for each task, from the measured image analysis.

JSON mode (``responseMimeType: application/json``) returns bare JSON shaped by the schema when
one is given; otherwise detection/segmentation JSON is wrapped in a ```json fence the way
Gemini 2.x usually answers, and captions are prose starting with ``[imagejobs emulator]``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from imagejobs.emulator.analysis import DetectedObject, ImageAnalysis
from imagejobs.emulator.request import GenerateRequest
from imagejobs.emulator.tasks import classification_labels, decide_task, requested_filter

PREFIX = "[imagejobs emulator]"


def answer_text(request: GenerateRequest, analyses: list[ImageAnalysis]) -> str:
    """The model text for ``request`` given one analysis per image (in order)."""
    if not analyses:
        return _text_only(request)
    task = decide_task(request)
    if task in ("detect", "segment"):
        return _spatial(request, analyses[0], with_masks=task == "segment")
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


def _spatial(request: GenerateRequest, analysis: ImageAnalysis, with_masks: bool) -> str:
    items: list[dict[str, Any]] = []
    for obj in selected_objects(request, analysis):
        item: dict[str, Any] = {"box_2d": obj.box_2d(analysis.width, analysis.height)}
        if with_masks:
            item["mask"] = obj.mask_data_url()
        item["label"] = obj.label
        items.append(item)
    if request.json_mode:
        return json.dumps(items)
    lines = ",\n".join("  " + json.dumps(item) for item in items)
    body = f"[\n{lines}\n]" if items else "[]"
    return f"```json\n{body}\n```"


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
