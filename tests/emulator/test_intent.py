# mypy: disable-error-code="arg-type"
# (google-genai types `contents` as invariant list unions; plain list literals trip mypy.)
"""Prompt heuristics: classification, filtered detection, comparison, JSON vs prose."""

from __future__ import annotations

import enum
import json

import pytest
from google import genai
from google.genai import types

from imagejobs.emulator.intent import classification_labels, decide_task
from imagejobs.emulator.request import GenerateRequest
from imagejobs.emulator.scenes import Scene, ShapeSpec, make_scene

JSON = types.GenerateContentConfig(response_mime_type="application/json")


def ask(client: genai.Client, contents: list[object], config: object = None) -> str:
    response = client.models.generate_content(
        model="gemini-2.5-flash", contents=contents, config=config
    )
    return response.text or ""


@pytest.mark.parametrize(
    ("prompt", "schema_props", "task"),
    [
        ("Give the segmentation masks of the shapes.", None, "segment"),
        ("Return bounding boxes. Never return masks or code fencing.", None, "detect"),
        ("Detect objects with box_2d", None, "detect"),
        ("Anything", {"box_2d": {}, "mask": {}}, "segment"),
        ("Choose the best label from: cat, dog, red square", None, "classify"),
        ("What is in this picture?", None, "caption"),
    ],
)
def test_decide_task(prompt: str, schema_props: dict[str, object] | None, task: str) -> None:
    schema = {"type": "ARRAY", "items": {"type": "OBJECT", "properties": schema_props}}
    request = GenerateRequest(
        model="m",
        texts=[prompt],
        response_mime_type="application/json" if schema_props else None,
        response_schema=schema if schema_props else None,
    )
    assert decide_task(request) == task


def test_labels_from_bullets_and_inline_lists() -> None:
    bullets = GenerateRequest(model="m", texts=["Classify the image. Labels:\n- cat\n- red box\n"])
    assert classification_labels(bullets) == ["cat", "red box"]
    inline = GenerateRequest(model="m", texts=["Pick one of these: 'a' | 'b' or c."])
    assert classification_labels(inline) == ["a", "b", "c"]


def test_classification_from_prompt_and_from_enum_schema(
    client: genai.Client, scene: Scene
) -> None:
    text = ask(client, [scene.image, "Choose one from: cat, blue circle, yellow star"])
    assert text == "blue circle"

    class Kind(enum.Enum):
        DOG = "dog"
        RED = "red thing"

    enum_config = types.GenerateContentConfig(
        response_mime_type="text/x.enum", response_schema=Kind
    )
    response = client.models.generate_content(
        model="gemini-2.5-flash", contents=[scene.image, "Classify"], config=enum_config
    )
    assert response.text == "red thing" and response.parsed == Kind.RED
    schema = {
        "type": "OBJECT",
        "properties": {
            "labels": {
                "type": "ARRAY",
                "items": {"type": "STRING", "enum": ["green", "cat", "blue"]},
            }
        },
    }
    config = types.GenerateContentConfig(
        response_mime_type="application/json", response_schema=schema
    )
    assert json.loads(ask(client, [scene.image, "Which apply?"], config)) == {
        "labels": ["green", "blue"]
    }


def test_detection_honours_colour_and_shape_words(client: genai.Client, scene: Scene) -> None:
    red = json.loads(ask(client, [scene.image, "Detect the red objects as box_2d"], JSON))
    assert [item["label"] for item in red] == ["red rectangle"]
    rects = json.loads(ask(client, [scene.image, "bounding boxes of all rectangles"], JSON))
    assert [item["label"] for item in rects] == ["red rectangle", "green rectangle"]
    none = json.loads(ask(client, [scene.image, "bounding boxes of the yellow triangles"], JSON))
    assert none == []


def test_caption_json_fills_schema_and_counts(client: genai.Client, scene: Scene) -> None:
    schema = {
        "type": "OBJECT",
        "properties": {
            "caption": {"type": "STRING"},
            "object_count": {"type": "INTEGER"},
            "width": {"type": "INTEGER"},
        },
    }
    config = types.GenerateContentConfig(
        response_mime_type="application/json", response_schema=schema
    )
    data = json.loads(ask(client, [scene.image, "Caption it"], config))
    assert data["object_count"] == 3 and data["width"] == 640
    assert data["caption"].startswith("[imagejobs emulator]")
    assert "I count 3 distinct regions" in ask(client, [scene.image, "How many shapes are there?"])


def test_comparison_of_several_images(client: genai.Client, scene: Scene) -> None:
    other = make_scene(320, 240, [ShapeSpec("rectangle", (10, 10, 60, 60), "red")])
    text = ask(client, [scene.image, other.image, "What changed?"])
    assert text.startswith("[imagejobs emulator] Compared 2 images")
    assert "sizes differ (640x480, 320x240)" in text
    assert "only image 1 has: blue ellipse, green rectangle" in text
    data = json.loads(ask(client, [scene.image, other.image, "Compare"], JSON))
    assert data["same_size"] is False and data["common_objects"] == ["red rectangle"]
    same = json.loads(ask(client, [scene.image, scene.image, "Compare"], JSON))
    assert same["differences"] == [] and same["same_objects"] is True


def test_empty_image_and_text_only(client: genai.Client) -> None:
    blank = make_scene(50, 50, [])
    assert "no distinct regions" in ask(client, [blank.image, "Describe"])
    assert ask(client, ["Just text"]).startswith("[imagejobs emulator] No image received")
