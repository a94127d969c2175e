"""What a producer asks for: the task, its inputs and options, validated with clear messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from imagejobs.core.tokens import normalise_media_resolution

Task = Literal["caption", "ask", "classify", "detect", "segment", "compare"]
TASKS: tuple[str, ...] = ("caption", "ask", "classify", "detect", "segment", "compare")
SPATIAL_TASKS = ("detect", "segment")  # boxes refer to one image: one Gemini call per image
WEBHOOK_EVENTS = ("job.started", "job.succeeded", "job.failed", "job.canceled")
DEFAULT_WEBHOOK_EVENTS = ["job.succeeded", "job.failed", "job.canceled"]
MAX_IMAGES = 3600


class JobOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thinking_budget: int | None = Field(default=None, ge=-1, le=32768)
    media_resolution: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_output_tokens: int | None = Field(default=None, ge=1, le=65536)

    @field_validator("media_resolution")
    @classmethod
    def _resolution(cls, value: str | None) -> str | None:
        return None if value is None else normalise_media_resolution(value)


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
    metadata: dict[str, Any] = Field(default_factory=dict)
    webhook_url: str | None = Field(default=None, max_length=2_000)
    webhook_events: list[str] = Field(default_factory=lambda: list(DEFAULT_WEBHOOK_EVENTS))

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
        """Raise ValueError if ``count`` images do not suit this task."""
        if count < 1:
            raise ValueError("images: a job needs at least one image")
        if count > MAX_IMAGES:
            raise ValueError(f"images: at most {MAX_IMAGES} images per job, got {count}")
        if self.task == "compare" and count < 2:
            raise ValueError("images: task 'compare' needs at least two images")

    def params(self) -> dict[str, Any]:
        """Task inputs as stored in the job row."""
        return {
            "prompt": self.prompt,
            "question": self.question,
            "labels": self.labels,
            "multi_label": self.multi_label,
            "target": self.target,
        }


def fields_from_flags(
    task: str,
    *,
    prompt: str | None,
    question: str | None,
    labels: str | None,
    model: str | None,
    webhook_url: str | None,
) -> dict[str, Any]:
    """Job fields (without ``task``) from command-line flags.

    ``--prompt`` says what to find for detect and segment, and is the prompt otherwise;
    ``--labels`` is comma-separated.
    """
    fields: dict[str, Any] = {"model": model, "question": question, "webhook_url": webhook_url}
    fields["target" if task in SPATIAL_TASKS else "prompt"] = prompt
    if labels:
        fields["labels"] = [label.strip() for label in labels.split(",") if label.strip()]
    return fields
