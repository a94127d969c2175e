"""Which results builder reads a model answer: spatial tasks (one image per call), labels
(classify) or text (caption, answer, compare); a blocked prompt is no answer at all (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imagejobs.core.jobspec import SPATIAL_TASKS
from imagejobs.core.parsing import ParseError
from imagejobs.results.build import Outcome, labels_outcome, spatial_outcome, text_outcome


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
