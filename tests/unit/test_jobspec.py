"""What a producer may ask for, and the errors that name what is wrong."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from imagejobs.core.jobspec import (
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    TOO_LARGE,
    ImageCountRefused,
    JobSpec,
    field_errors,
    nesting_depth,
)


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
    with pytest.raises(ImageCountRefused, match=message):  # its own type: not a ValueError
        spec.check_image_count(count)


def test_compare_gets_a_default_prompt() -> None:
    assert JobSpec(task="compare").prompt == "Compare these images."
    JobSpec(task="caption").check_image_count(3600)


def deep(levels: int) -> dict[str, object]:
    value: dict[str, object] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_nesting_depth_is_iterative_and_stops_at_the_limit() -> None:
    assert nesting_depth(7, limit=5) == 0
    assert nesting_depth({}, limit=5) == 1
    assert nesting_depth({"a": [1, {"b": []}]}, limit=5) == 4
    assert nesting_depth(deep(100_000), limit=32) == 33  # no RecursionError, stops early
    cyclic: list[object] = []
    cyclic.append(cyclic)
    assert nesting_depth(cyclic, limit=10) == 11


def test_metadata_limits_name_the_field() -> None:
    assert JobSpec(task="caption", metadata=deep(MAX_METADATA_DEPTH)).metadata
    message = error_of(task="caption", metadata=deep(MAX_METADATA_DEPTH + 1))
    assert "metadata" in message and f"limit of {MAX_METADATA_DEPTH} levels" in message
    assert "metadata" in error_of(task="caption", metadata=deep(5000))
    fits = {"k": "é" * ((MAX_METADATA_BYTES - len('{"k":""}')) // 2)}  # 2 UTF-8 bytes each
    assert JobSpec(task="caption", metadata=fits).metadata == fits
    with pytest.raises(ValidationError) as caught:
        JobSpec(task="caption", metadata={"k": "x" * MAX_METADATA_BYTES})
    error = caught.value.errors()[0]
    assert error["type"] == TOO_LARGE and error["loc"] == ("metadata",)
    assert f"the limit is {MAX_METADATA_BYTES} bytes" in error["msg"]
    assert "NaN" in error_of(task="caption", metadata={"x": float("nan")})
    assert "must be JSON" in error_of(task="caption", metadata={"x": object()})


def test_field_errors_word_pydantic_errors_once() -> None:
    with pytest.raises(ValidationError) as caught:
        JobSpec(task="classify", labels=["a", "a"], colour=1)  # type: ignore[call-arg]
    worded = dict(field_errors(caught.value.errors(), default_field="job"))
    assert worded == {"labels": "labels must be unique", "colour": "unknown field"}
    assert not any(m.startswith(("Value error", "Assertion failed")) for m in worded.values())
    with pytest.raises(ValidationError) as whole:
        JobSpec(task="ask")
    assert field_errors(whole.value.errors(), default_field="job") == [
        ("job", "task 'ask' needs a question")
    ]
    located = [{"loc": ("body", "images", 0, "url"), "msg": "Value error, bad", "type": "x"}]
    assert field_errors(located, skip=1) == [("images[0].url", "bad")]
