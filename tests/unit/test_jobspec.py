"""What a producer may ask for, and the errors that name what is wrong."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from imagejobs.core.jobspec import JobSpec


def error_of(**fields: object) -> str:
    with pytest.raises(ValidationError) as caught:
        JobSpec(**fields)  # type: ignore[arg-type]
    return str(caught.value)


def test_task_inputs_are_required() -> None:
    assert "needs a question" in error_of(task="ask")
    assert "needs labels" in error_of(task="classify")
    assert "task" in error_of(task="draw")


def test_labels_are_cleaned_and_checked() -> None:
    assert JobSpec(task="classify", labels=[" cat ", "dog"]).labels == ["cat", "dog"]
    assert "unique" in error_of(task="classify", labels=["cat", "cat "])
    assert "empty" in error_of(task="classify", labels=["cat", " "])


def test_options_are_bounded_and_named() -> None:
    message = error_of(task="caption", options={"temperature": 3})
    assert "options.temperature" in message and "less than or equal to 2" in message
    assert "media_resolution" in error_of(task="caption", options={"media_resolution": "huge"})
    spec = JobSpec(task="caption", options={"media_resolution": "media_resolution_low"})
    assert spec.options.media_resolution == "LOW"
    assert "nonsense" in error_of(task="caption", nonsense=1)  # unknown fields are refused


def test_webhooks() -> None:
    spec = JobSpec(task="caption", webhook_url="https://app.example/hook")
    assert spec.webhook_events == ["job.succeeded", "job.failed", "job.canceled"]
    assert "job.exploded" in error_of(task="caption", webhook_events=["job.exploded"])
    assert "webhook_url" in error_of(task="caption", webhook_url="ftp://x")


@pytest.mark.parametrize(
    ("task", "count", "message"),
    [
        ("caption", 0, "at least one image"),
        ("caption", 3601, "at most 3600"),
        ("compare", 1, "at least two images"),
    ],
)
def test_image_count(task: str, count: int, message: str) -> None:
    spec = JobSpec(task=task)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        spec.check_image_count(count)


def test_compare_gets_a_default_prompt() -> None:
    assert JobSpec(task="compare").prompt == "Compare these images."
    JobSpec(task="caption").check_image_count(3600)
