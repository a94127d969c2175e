"""Prompts and response schemas per task."""

from __future__ import annotations

import pytest

from imagejobs.core.jobspec import TASKS
from imagejobs.core.prompts import DETECT_SCHEMA, build_prompt


def test_detect_defaults_follow_the_guide() -> None:
    spec = build_prompt("detect")
    assert spec.text.startswith("Detect all of the prominent items in the image.")
    assert "The box_2d should be [ymin, xmin, ymax, xmax] normalized to 0-1000." in spec.text
    assert spec.response_mime_type == "application/json"
    assert spec.response_schema == DETECT_SCHEMA
    assert spec.response_schema["items"]["required"] == ["box_2d", "label"]
    assert spec.thinking_budget == 0
    assert spec.system_instruction is not None and "25 objects" in spec.system_instruction


def test_detect_target_and_limit() -> None:
    spec = build_prompt("detect", target="the red cups", max_objects=5, prompt="Ignore saucers.")
    assert spec.text.startswith("Detect the red cups.")
    assert "Limit to 5 objects." in spec.text
    assert spec.text.endswith("Ignore saucers.")


def test_segment_prompt() -> None:
    spec = build_prompt("segment", target="the cupcakes")
    assert spec.text.startswith("Give the segmentation masks for the cupcakes.")
    for phrase in ('key "box_2d"', 'key "mask"', 'key "label"', "Use descriptive labels."):
        assert phrase in spec.text
    assert spec.response_mime_type == "application/json"
    assert spec.response_schema is None
    assert spec.thinking_budget == 0


@pytest.mark.parametrize("multi", [False, True])
def test_classify_schema_and_listing(multi: bool) -> None:
    spec = build_prompt("classify", labels=[" cat", "dog", "bird"], multi_label=multi)
    assert "from: cat, dog, bird" in spec.text
    assert spec.response_mime_type == "application/json"
    assert spec.response_schema == {
        "type": "OBJECT",
        "properties": {
            "labels": {"type": "ARRAY", "items": {"type": "STRING", "enum": ["cat", "dog", "bird"]}}
        },
        "required": ["labels"],
    }
    assert ("every label" in spec.text) is multi
    assert spec.thinking_budget is None


@pytest.mark.parametrize("task", ["caption", "ask", "compare"])
def test_text_tasks_are_plain(task: str) -> None:
    spec = build_prompt(task, question="What is this?", n_images=2)
    assert spec.response_mime_type is None and spec.response_schema is None
    assert spec.thinking_budget is None and spec.text


def test_ask_uses_the_question() -> None:
    assert build_prompt("ask", question="  How many cups? ").text == "How many cups?"


@pytest.mark.parametrize(
    ("task", "kwargs", "field"),
    [
        ("ask", {}, "question"),
        ("ask", {"question": "   "}, "question"),
        ("classify", {}, "labels"),
        ("classify", {"labels": []}, "labels"),
        ("classify", {"labels": ["cat", " "]}, "labels"),
        ("classify", {"labels": ["cat", "Cat"]}, "labels"),
        ("compare", {"n_images": 1}, "n_images"),
        ("caption", {"n_images": 0}, "n_images"),
        ("detect", {"max_objects": 0}, "max_objects"),
        ("draw", {}, "task"),
    ],
)
def test_validation_names_the_field(task: str, kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        build_prompt(task, **kwargs)  # type: ignore[arg-type]


def test_all_tasks_build() -> None:
    for task in TASKS:
        spec = build_prompt(task, question="q", labels=["a"], n_images=2)
        assert spec.text
