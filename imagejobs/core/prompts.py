"""Prompts and response schemas per task, following Gemini's image-understanding guide.

Detect and segment ask for JSON (JSON mode, thinking off by default as the docs advise); the
parser still copes with fenced answers because real models ignore such instructions.
Schemas use the Gemini API's OpenAPI subset (upper-case type names).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from imagejobs.core.jobspec import TASKS

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


@dataclass(frozen=True)
class _Inputs:
    """A task's inputs, cleaned: what each task's prompt builder reads."""

    extra: str | None  # the producer's extra guidance, appended to the prompt
    question: str | None
    labels: list[str] | None
    target: str | None
    n_images: int
    multi_label: bool
    max_objects: int

    @property
    def subject(self) -> str:
        return "these images" if self.n_images > 1 else "this image"


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
    inputs = _Inputs(
        extra=_clean(prompt),
        question=_clean(question),
        labels=labels,
        target=_clean(target),
        n_images=n_images,
        multi_label=multi_label,
        max_objects=max_objects,
    )
    return _BUILDERS[task](inputs)


def _caption(inputs: _Inputs) -> PromptSpec:
    text = f"Write a concise, factual caption for {inputs.subject}."
    return PromptSpec(_join(text, inputs.extra))


def _ask(inputs: _Inputs) -> PromptSpec:
    if inputs.question is None:
        raise ValueError("question: the ask task needs a non-empty question")
    return PromptSpec(_join(inputs.question, inputs.extra))


def _compare(inputs: _Inputs) -> PromptSpec:
    if inputs.n_images < 2:
        raise ValueError(f"n_images: compare needs at least 2 images, got {inputs.n_images}")
    text = (
        f"Compare these {inputs.n_images} images. Describe the important similarities and "
        "differences, referring to the images by their order (image 1, image 2, ...)."
    )
    return PromptSpec(_join(text, inputs.extra))


def _classify(inputs: _Inputs) -> PromptSpec:
    clean_labels = _check_labels(inputs.labels)
    listing = ", ".join(clean_labels)
    if inputs.multi_label:
        text = (
            f"Choose every label that applies to {inputs.subject} from: {listing}. "
            'Answer as JSON {"labels": [...]} using only these labels; '
            "use an empty list if none applies."
        )
    else:
        text = (
            f"Choose the one label that best describes {inputs.subject} from: {listing}. "
            'Answer as JSON {"labels": [<label>]} with exactly one of these labels.'
        )
    return PromptSpec(
        _join(text, inputs.extra),
        response_mime_type=JSON_MIME,
        response_schema=classify_schema(clean_labels),
    )


def _detect(inputs: _Inputs) -> PromptSpec:
    target = inputs.target
    what = f"Detect {target}." if target else "Detect all of the prominent items in the image."
    text = (
        f"{what} {BOX_FORMAT} Output a JSON list where each entry contains the 2D bounding "
        'box in the key "box_2d" and the text label in the key "label". '
    )
    return _spatial(text, DETECT_SYSTEM, DETECT_SCHEMA, inputs)


def _segment(inputs: _Inputs) -> PromptSpec:
    what = inputs.target or "all of the prominent items in the image"
    text = (
        f"Give the segmentation masks for {what}. Output a JSON list of segmentation masks where "
        'each entry contains the 2D bounding box in the key "box_2d", the segmentation mask in '
        'key "mask", and the text label in the key "label". Use descriptive labels. '
    )
    return _spatial(text, SEGMENT_SYSTEM, None, inputs)


def _spatial(text: str, system: str, schema: dict[str, Any] | None, inputs: _Inputs) -> PromptSpec:
    """Detect and segment: JSON mode, at most ``max_objects`` items, thinking off (the docs)."""
    limit = f"Limit to {inputs.max_objects} objects."
    return PromptSpec(
        _join(text + limit, inputs.extra),
        system_instruction=system.format(max_objects=inputs.max_objects),
        response_mime_type=JSON_MIME,
        response_schema=schema,
        thinking_budget=0,
    )


_BUILDERS: dict[str, Callable[[_Inputs], PromptSpec]] = {
    "caption": _caption,
    "ask": _ask,
    "classify": _classify,
    "detect": _detect,
    "segment": _segment,
    "compare": _compare,
}
assert set(_BUILDERS) == set(TASKS), "every task needs a prompt builder"


def _join(text: str, extra: str | None) -> str:
    return text if extra is None else f"{text}\n\n{extra}"
