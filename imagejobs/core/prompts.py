"""Prompts and response schemas per task, following Gemini's image-understanding guide.

Detect and segment ask for JSON (JSON mode, thinking off by default as the docs advise); the
parser still copes with fenced answers because real models ignore such instructions.
Schemas use the Gemini API's OpenAPI subset (upper-case type names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TASKS = ("caption", "ask", "classify", "detect", "segment", "compare")
JSON_MIME = "application/json"

BOX_FORMAT = "The box_2d should be [ymin, xmin, ymax, xmax] normalized to 0-1000."

DETECT_SCHEMA: dict[str, Any] = {
    "type": "ARRAY",
    "items": {
        "type": "OBJECT",
        "properties": {
            "box_2d": {"type": "ARRAY", "items": {"type": "INTEGER"}},
            "label": {"type": "STRING"},
        },
        "required": ["box_2d", "label"],
    },
}

DETECT_SYSTEM = (
    "Return bounding boxes as a JSON array with labels. Never return masks or code fencing. "
    "Limit to {max_objects} objects. If an object is present multiple times, name them according "
    "to their unique characteristic (colors, size, position, unique characteristics, etc..)."
)

SEGMENT_SYSTEM = (
    "Return segmentation masks as a JSON array. Never return code fencing. "
    "Limit to {max_objects} objects."
)


@dataclass
class PromptSpec:
    """Everything the Gemini adapter needs to phrase one request (besides the images)."""

    text: str
    system_instruction: str | None = None
    response_mime_type: str | None = None
    response_schema: dict[str, Any] | None = None
    thinking_budget: int | None = None


def classify_schema(labels: list[str]) -> dict[str, Any]:
    """JSON-mode schema restricting the answer to ``{"labels": [one of labels, ...]}``."""
    return {
        "type": "OBJECT",
        "properties": {
            "labels": {"type": "ARRAY", "items": {"type": "STRING", "enum": list(labels)}}
        },
        "required": ["labels"],
    }


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _check_labels(labels: list[str] | None) -> list[str]:
    if not labels:
        raise ValueError("labels: classify needs at least one label")
    cleaned: list[str] = []
    seen: set[str] = set()
    for index, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"labels: label {index} is empty")
        text = label.strip()
        if text.casefold() in seen:
            raise ValueError(f"labels: {text!r} is listed twice")
        seen.add(text.casefold())
        cleaned.append(text)
    return cleaned


def build_prompt(
    task: str,
    *,
    prompt: str | None = None,
    question: str | None = None,
    labels: list[str] | None = None,
    target: str | None = None,
    n_images: int = 1,
    multi_label: bool = False,
    max_objects: int = 25,
) -> PromptSpec:
    """The prompt for ``task``; ``prompt`` (when given) is extra user guidance appended to it.

    Raises ValueError naming the field: unknown task, ask without question, classify without
    (unique, non-empty) labels, compare with fewer than 2 images, bad n_images / max_objects.
    """
    if task not in TASKS:
        raise ValueError(f"task: unknown task {task!r}; expected one of {', '.join(TASKS)}")
    if n_images < 1:
        raise ValueError(f"n_images: needs at least 1 image, got {n_images}")
    if max_objects < 1:
        raise ValueError(f"max_objects: must be at least 1, got {max_objects}")
    extra = _clean(prompt)
    target = _clean(target)
    several = n_images > 1

    if task == "caption":
        subject = "these images" if several else "this image"
        text = f"Write a concise, factual caption for {subject}."
        return PromptSpec(_join(text, extra))

    if task == "ask":
        q = _clean(question)
        if q is None:
            raise ValueError("question: the ask task needs a non-empty question")
        return PromptSpec(_join(q, extra))

    if task == "compare":
        if n_images < 2:
            raise ValueError(f"n_images: compare needs at least 2 images, got {n_images}")
        text = (
            f"Compare these {n_images} images. Describe the important similarities and "
            "differences, referring to the images by their order (image 1, image 2, ...)."
        )
        return PromptSpec(_join(text, extra))

    if task == "classify":
        clean_labels = _check_labels(labels)
        listing = ", ".join(clean_labels)
        subject = "these images" if several else "this image"
        if multi_label:
            text = (
                f"Choose every label that applies to {subject} from: {listing}. "
                'Answer as JSON {"labels": [...]} using only these labels; '
                "use an empty list if none applies."
            )
        else:
            text = (
                f"Choose the one label that best describes {subject} from: {listing}. "
                'Answer as JSON {"labels": [<label>]} with exactly one of these labels.'
            )
        return PromptSpec(
            _join(text, extra),
            response_mime_type=JSON_MIME,
            response_schema=classify_schema(clean_labels),
        )

    if task == "detect":
        what = f"Detect {target}." if target else "Detect all of the prominent items in the image."
        text = (
            f"{what} {BOX_FORMAT} Output a JSON list where each entry contains the 2D bounding "
            'box in the key "box_2d" and the text label in the key "label". '
            f"Limit to {max_objects} objects."
        )
        return PromptSpec(
            _join(text, extra),
            system_instruction=DETECT_SYSTEM.format(max_objects=max_objects),
            response_mime_type=JSON_MIME,
            response_schema=DETECT_SCHEMA,
            thinking_budget=0,
        )

    # segment
    what = target or "all of the prominent items in the image"
    text = (
        f"Give the segmentation masks for {what}. Output a JSON list of segmentation masks where "
        'each entry contains the 2D bounding box in the key "box_2d", the segmentation mask in '
        'key "mask", and the text label in the key "label". Use descriptive labels. '
        f"Limit to {max_objects} objects."
    )
    return PromptSpec(
        _join(text, extra),
        system_instruction=SEGMENT_SYSTEM.format(max_objects=max_objects),
        response_mime_type=JSON_MIME,
        thinking_budget=0,
    )


def _join(text: str, extra: str | None) -> str:
    return text if extra is None else f"{text}\n\n{extra}"
