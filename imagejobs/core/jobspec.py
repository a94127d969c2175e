"""What a producer asks for: the task, its inputs and options, validated with clear messages.

The limits here hold for every way in (HTTP, the CLI, Celery interop): ``metadata`` is JSON nested
at most :data:`MAX_METADATA_DEPTH` levels deep and at most :data:`MAX_METADATA_BYTES` encoded, so
it always fits a webhook event and every view of the job can be rendered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from imagejobs.core.media_resolution import normalise_media_resolution
from imagejobs.core.thinking_level import normalise_level

Task = Literal["caption", "ask", "classify", "detect", "segment", "compare"]
TASKS: tuple[str, ...] = get_args(Task)  # the one list of tasks, in this order
JobStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)  # the one list of statuses
FINAL_STATUSES = ("succeeded", "failed", "canceled")  # a job in one of these is done
SPATIAL_TASKS = ("detect", "segment")  # boxes refer to one image: one Gemini call per image
WEBHOOK_EVENTS = ("job.started", "job.succeeded", "job.failed", "job.canceled")
DEFAULT_WEBHOOK_EVENTS = ["job.succeeded", "job.failed", "job.canceled"]
MAX_IMAGES = 3600
MAX_METADATA_DEPTH = 32  # {} is 1 level, {"a": {}} is 2
MAX_METADATA_BYTES = 16 * 1024  # compact UTF-8 JSON
TOO_LARGE = "too_large"  # the pydantic error type of a value over a size limit (HTTP 413)
TOO_DEEP = "too_deep"
REQUESTED_MODEL_PARAM = "requested_model"  # params keys the model choice adds (not task inputs)
MODEL_NOTES_PARAM = "model_notes"


def nesting_depth(value: Any, *, limit: int) -> int:
    """How deep dicts and lists nest in ``value`` (a scalar is 0, ``{}`` is 1), without recursion.

    Counting stops as soon as ``limit`` is passed (so a cyclic value ends too): any result over
    ``limit`` only means "too deep".
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth > limit:
            return depth
        stack.extend((child, depth + 1) for child in children)
    return deepest


def too_deep_message(limit: int = MAX_METADATA_DEPTH) -> str:
    return f"is nested deeper than the limit of {limit} levels"


def check_metadata(value: Any) -> None:
    """Raise PydanticCustomError (type ``too_deep``, ``too_large`` or ``json_invalid``) unless
    ``value`` is JSON within the metadata limits."""
    if nesting_depth(value, limit=MAX_METADATA_DEPTH) > MAX_METADATA_DEPTH:
        raise PydanticCustomError(TOO_DEEP, too_deep_message())
    try:
        encoded = json.dumps(
            value, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("json_invalid", "is not valid Unicode text") from None
    except (TypeError, ValueError) as exc:
        raise PydanticCustomError(
            "json_invalid", "must be JSON (no NaN or Infinity): {reason}", {"reason": str(exc)}
        ) from None
    if len(encoded) > MAX_METADATA_BYTES:
        raise PydanticCustomError(
            TOO_LARGE,
            "is {size} bytes as JSON; the limit is {limit} bytes",
            {"size": len(encoded), "limit": MAX_METADATA_BYTES},
        )


def field_errors(
    errors: Iterable[Any], *, skip: int = 0, default_field: str = "body"
) -> list[tuple[str, str]]:
    """``(field, message)`` for each pydantic error dict: the one place they are worded.

    The field is the dotted location (``images[0].url``, after dropping ``skip`` parts, or
    ``default_field`` for a whole-object error); pydantic's "Value error, " and "Assertion
    failed, " prefixes are dropped, and an unknown field says so.
    """
    result = []
    for error in errors:
        name = ""
        for part in list(error.get("loc", ()))[skip:]:
            name += f"[{part}]" if isinstance(part, int) else ("." if name else "") + str(part)
        message = str(error.get("msg", ""))
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
        if error.get("type") == "extra_forbidden":
            message = "unknown field"
        result.append((name or default_field, message))
    return result


class JobOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thinking_budget: int | None = Field(default=None, ge=-1, le=32768)
    thinking_level: str | None = Field(
        default=None, description="Gemini 3.x: MINIMAL, LOW, MEDIUM or HIGH (as the model accepts)"
    )
    media_resolution: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_output_tokens: int | None = Field(default=None, ge=1, le=65536)

    @field_validator("media_resolution")
    @classmethod
    def _resolution(cls, value: str | None) -> str | None:
        return None if value is None else normalise_media_resolution(value)

    @field_validator("thinking_level")
    @classmethod
    def _level(cls, value: str | None) -> str | None:
        return None if value is None else normalise_level(value)


class ImageCountRefused(Exception):
    """The number of images does not suit the job's task."""


class JobSpec(BaseModel):
    """Everything about a job except its images."""

    model_config = ConfigDict(extra="forbid")

    task: Task
    model: str | None = Field(default=None, min_length=1, max_length=100)
    prompt: str | None = Field(default=None, max_length=20_000)
    question: str | None = Field(default=None, max_length=20_000)
    labels: list[str] | None = None
    multi_label: bool = False
    target: str | None = Field(default=None, max_length=2_000)
    options: JobOptions = Field(default_factory=JobOptions)
    priority: int = Field(default=0, ge=0, le=9)
    deadline: datetime | None = None
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            f"Returned as given (and in every webhook event): a JSON object at most "
            f"{MAX_METADATA_DEPTH} levels deep and {MAX_METADATA_BYTES} bytes encoded"
        ),
    )
    webhook_url: str | None = Field(default=None, max_length=2_000)
    webhook_events: list[str] = Field(default_factory=lambda: list(DEFAULT_WEBHOOK_EVENTS))
    fallback_models: list[str] = Field(
        default_factory=list,
        max_length=5,
        description=(
            "Models to run on, in order, when the job's model is overloaded (its circuit breaker "
            "is open, or it answers 503); empty: the task's default chain from settings"
        ),
    )
    cache: bool = Field(
        default=True,
        description=(
            "Answer from an earlier succeeded job with the same images, task, inputs, model "
            "and options when there is one (no Gemini call, no cost); false: always call Gemini"
        ),
    )
    on_budget: Literal["fail", "wait"] = Field(
        default="fail",
        description=(
            "When the producer's budget cannot cover the job's quote: fail (the job ends "
            "budget_exceeded, nothing is sent) or wait (parked until the budget period turns)"
        ),
    )
    # Set by imagejobs.core.model_options when the model is chosen, never by the producer.
    _requested_model: str | None = PrivateAttr(default=None)
    _model_notes: list[str] = PrivateAttr(default_factory=list)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [label.strip() for label in value]
        if any(not label for label in cleaned):
            raise ValueError("labels must not be empty strings")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("labels must be unique")
        return cleaned

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata(cls, value: Any) -> Any:
        check_metadata(value)
        return value

    @field_validator("webhook_events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        unknown = [event for event in value if event not in WEBHOOK_EVENTS]
        if unknown:
            raise ValueError(f"unknown webhook events {unknown}; known: {list(WEBHOOK_EVENTS)}")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("webhook_url must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _task_inputs(self) -> JobSpec:
        if self.task == "ask" and not (self.question or self.prompt):
            raise ValueError("task 'ask' needs a question")
        if self.task == "classify" and not self.labels:
            raise ValueError("task 'classify' needs labels")
        if self.task == "compare" and not (self.question or self.prompt):
            self.prompt = "Compare these images."
        return self

    def check_image_count(self, count: int) -> None:
        """Raise :class:`ImageCountRefused` if ``count`` images do not suit this task."""
        if count < 1:
            raise ImageCountRefused("images: a job needs at least one image")
        if count > MAX_IMAGES:
            raise ImageCountRefused(f"images: at most {MAX_IMAGES} images per job, got {count}")
        if self.task == "compare" and count < 2:
            raise ImageCountRefused("images: task 'compare' needs at least two images")

    def set_model_choice(self, requested_model: str | None, notes: list[str]) -> None:
        """Record that the job was routed from ``requested_model``, and what was dropped."""
        self._requested_model = requested_model
        self._model_notes = list(notes)

    def requested_model(self) -> str | None:
        return self._requested_model

    def model_notes(self) -> list[str]:
        return list(self._model_notes)

    def params(self) -> dict[str, Any]:
        """Task inputs as stored in the job row (with the model choice's routing and notes)."""
        params: dict[str, Any] = {
            "prompt": self.prompt,
            "question": self.question,
            "labels": self.labels,
            "multi_label": self.multi_label,
            "target": self.target,
        }
        if self._requested_model:
            params[REQUESTED_MODEL_PARAM] = self._requested_model
        if self._model_notes:
            params[MODEL_NOTES_PARAM] = list(self._model_notes)
        return params


def fields_from_flags(
    task: str,
    *,
    prompt: str | None,
    question: str | None,
    labels: str | None,
    model: str | None,
    webhook_url: str | None,
    fallback_models: list[str] | None = None,
    cache: bool = True,
    on_budget: str | None = None,
) -> dict[str, Any]:
    """Job fields (without ``task``) from command-line flags.

    ``--prompt`` says what to find for detect and segment, and is the prompt otherwise;
    ``--labels`` is comma-separated. Fields left at their defaults are left out (None).
    """
    fields: dict[str, Any] = {"model": model, "question": question, "webhook_url": webhook_url}
    fields["target" if task in SPATIAL_TASKS else "prompt"] = prompt
    if labels:
        fields["labels"] = [label.strip() for label in labels.split(",") if label.strip()]
    fields["fallback_models"] = list(fallback_models) if fallback_models else None
    fields["cache"] = None if cache else False
    fields["on_budget"] = on_budget
    return fields


def job_error(status: str, code: str | None, message: str | None) -> dict[str, str | None] | None:
    """A job's error as the API, the job view and webhook events show it (None: no error)."""
    if code is None and status != "failed":
        return None
    return {"code": code, "message": message}
