"""Turn a model answer into results: text, labels, pixel boxes and masks (pure, no I/O), and
choose the builder for a task: spatial tasks (one image per call), labels (classify) or text
(caption, answer, compare); a blocked prompt is no answer at all.

Boxes come back as ``box_2d`` normalised to 0..1000 of the image that was sent. Because they are
relative, they map straight onto the upright original's pixels even when a downscaled copy was
sent, so every box and mask refers to the image the producer gave us.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imagejobs.core.geometry import PixelBox, box_2d_to_pixels
from imagejobs.core.jobspec import SPATIAL_TASKS
from imagejobs.core.masks import DecodedMask, decode_mask
from imagejobs.core.parsing import (
    ParseError,
    parse_items,
    parse_labels,
    parse_model_output,
    parse_text_answer,
)


@dataclass(frozen=True)
class DetectionOut:
    image_position: int
    label: str
    box: PixelBox
    box_2d: tuple[int, int, int, int]


@dataclass(frozen=True)
class MaskOut:
    image_position: int
    label: str
    box: PixelBox
    box_2d: tuple[int, int, int, int]
    area: int | None
    png: bytes | None
    problem: str | None


@dataclass
class Outcome:
    """Everything a job produced, ready to be written."""

    caption: str | None = None
    answer: str | None = None
    labels: list[str] | None = None
    detections: list[DetectionOut] = field(default_factory=list)
    masks: list[MaskOut] = field(default_factory=list)
    dropped_boxes: int = 0
    notes: list[str] = field(default_factory=list)
    raw_texts: list[str] = field(default_factory=list)
    finish_reasons: list[str] = field(default_factory=list)

    def summary(self, limit: int = 50) -> dict[str, Any]:
        """A compact view for webhooks and tables (masks without their pixels)."""
        out: dict[str, Any] = {}
        if self.caption is not None:
            out["caption"] = self.caption
        if self.answer is not None:
            out["answer"] = self.answer
        if self.labels is not None:
            out["labels"] = self.labels
        if self.detections:
            out["detections"] = [
                {"label": d.label, "box": d.box.as_list(), "image": d.image_position}
                for d in self.detections[:limit]
            ]
            out["detection_count"] = len(self.detections)
        if self.masks:
            out["masks"] = [
                {
                    "label": m.label,
                    "box": m.box.as_list(),
                    "area": m.area,
                    "image": m.image_position,
                }
                for m in self.masks[:limit]
            ]
            out["mask_count"] = len(self.masks)
        return out


def text_outcome(task: str, text: str | None, finish_reason: str | None) -> Outcome:
    """Caption, answer or comparison."""
    if finish_reason == "MAX_TOKENS":
        raise ParseError(
            "truncated",
            "the model's answer was cut off at max output tokens (finishReason MAX_TOKENS); "
            "raise max_output_tokens",
        )
    answer = parse_text_answer(_require_text(text, finish_reason))
    if task == "caption":
        return Outcome(caption=answer)
    return Outcome(answer=answer)


def labels_outcome(
    text: str | None, finish_reason: str | None, allowed: list[str], multi_label: bool
) -> Outcome:
    value = parse_model_output(text, finish_reason)
    labels = parse_labels(value, allowed)
    if not multi_label:
        labels = labels[:1]
    return Outcome(labels=labels)


def spatial_outcome(
    task: str,
    text: str | None,
    finish_reason: str | None,
    *,
    image_position: int,
    width: int,
    height: int,
) -> Outcome:
    """Detections (and for ``segment``, masks) on an upright original of ``width`` x ``height``."""
    value = parse_model_output(text, finish_reason)
    parsed = parse_items(value)
    outcome = Outcome(dropped_boxes=parsed.dropped, notes=list(parsed.drop_reasons))
    for item in parsed.items:
        box = box_2d_to_pixels(item.box_2d, width, height)
        outcome.detections.append(DetectionOut(image_position, item.label, box, item.box_2d))
        if task != "segment":
            continue
        decoded = decode_mask(item.mask, box, width, height)
        if isinstance(decoded, DecodedMask):
            outcome.masks.append(
                MaskOut(
                    image_position,
                    item.label,
                    box,
                    item.box_2d,
                    decoded.area,
                    decoded.to_png(),
                    None,
                )
            )
        else:
            outcome.masks.append(
                MaskOut(image_position, item.label, box, item.box_2d, None, None, decoded.reason)
            )
    return outcome


def merge(outcomes: list[Outcome]) -> Outcome:
    """Combine per-image outcomes (detect and segment call Gemini once per image)."""
    merged = Outcome()
    for outcome in outcomes:
        merged.detections.extend(outcome.detections)
        merged.masks.extend(outcome.masks)
        merged.dropped_boxes += outcome.dropped_boxes
        merged.notes.extend(outcome.notes)
        merged.raw_texts.extend(outcome.raw_texts)
        merged.finish_reasons.extend(outcome.finish_reasons)
        for name in ("caption", "answer", "labels"):
            if getattr(outcome, name) is not None:
                setattr(merged, name, getattr(outcome, name))
    return merged


def _require_text(text: str | None, finish_reason: str | None) -> str:
    if text is None or not text.strip():
        reason = f" (finishReason {finish_reason})" if finish_reason else ""
        raise ParseError("empty", f"the model returned no text{reason}")
    return text


@dataclass(frozen=True)
class Answer:
    """What one Gemini call answered."""

    text: str | None
    finish_reason: str | None
    block_reason: str | None = None


@dataclass(frozen=True)
class Upright:
    """The image a spatial call was about: its position in the job and its upright size."""

    position: int
    width: int
    height: int


def one_image_per_call(task: str) -> bool:
    """Spatial tasks (detect, segment, ...) call Gemini once per image; the others once."""
    return task in SPATIAL_TASKS


def outcome_of(
    task: str, params: dict[str, Any], answer: Answer, image: Upright | None = None
) -> Outcome:
    """The results of one call; raises :class:`ParseError` when the answer cannot be used."""
    if answer.block_reason:
        raise ParseError("blocked", f"Gemini blocked the prompt ({answer.block_reason})")
    if task in SPATIAL_TASKS:
        if image is None:
            raise ValueError(f"task {task!r} needs the image the call was about")
        outcome = spatial_outcome(
            task,
            answer.text,
            answer.finish_reason,
            image_position=image.position,
            width=image.width,
            height=image.height,
        )
    elif task == "classify":
        outcome = labels_outcome(
            answer.text,
            answer.finish_reason,
            list(params.get("labels") or []),
            bool(params.get("multi_label")),
        )
    else:
        outcome = text_outcome(task, answer.text, answer.finish_reason)
    outcome.raw_texts.append(answer.text or "")
    if answer.finish_reason:
        outcome.finish_reasons.append(answer.finish_reason)
    return outcome
