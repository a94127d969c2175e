"""Every task end to end: submit → Postgres → Redis → Celery worker → emulator → Postgres."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from imagejobs.emulator.scenes import Scene, ShapeSpec, make_scene
from tests.conftest import DOWNSCALE_LONGEST_SIDE
from tests.e2e.conftest import Submit, wait_job

pytestmark = pytest.mark.slow


def scene_a(width: int = 640, height: int = 480) -> Scene:
    sx, sy = width / 640, height / 480
    shapes = [
        ("rectangle", (40, 50, 200, 170), "red"),
        ("ellipse", (300, 60, 520, 220), "blue"),
        ("rectangle", (80, 300, 140, 440), "green"),
        ("ellipse", (400, 320, 470, 380), "orange"),
        ("rectangle", (600, 440, 608, 448), "purple"),  # tiny
    ]
    return make_scene(
        width,
        height,
        [
            ShapeSpec(
                s, (round(b[0] * sx), round(b[1] * sy), round(b[2] * sx), round(b[3] * sy)), c
            )
            for s, b, c in shapes
        ],
    )


def assert_boxes_match(view: dict, scene: Scene, tolerance: float = 2.0) -> None:
    found = {d["label"]: d["box"] for d in view["detections"]}
    assert len(view["detections"]) == len(scene.objects), view["detections"]
    for obj in scene.objects:
        assert obj.label in found, (obj.label, found)
        error = np.abs(np.array(found[obj.label]) - np.array(obj.box)).max()
        assert error <= tolerance, (obj.label, found[obj.label], obj.box)


def mask_iou(view: dict, scene: Scene) -> dict[str, float]:
    ious = {}
    by_label = {m["label"]: m for m in view["masks"]}
    for obj in scene.objects:
        m = by_label[obj.label]
        x0, y0, x1, y1 = m["box"]
        local = np.asarray(Image.open(io.BytesIO(base64.b64decode(m["mask_png"]))).convert("L")) > 0
        full = np.zeros_like(obj.mask)
        full[y0:y1, x0:x1] = local
        ious[obj.label] = float((full & obj.mask).sum() / (full | obj.mask).sum())
    return ious


def test_detect_on_generated_scene(submit: Submit) -> None:
    scene = scene_a()
    # A 2.x model: the tile rule (the 3.x default is costed by media resolution).
    view = wait_job(submit([scene.encode("PNG")], task="detect", model="gemini-2.5-flash-lite"))
    assert view["status"] == "succeeded", view["error"]
    assert_boxes_match(view, scene)
    image = view["images"][0]
    assert image["transport"] == "inline"
    assert (image["width"], image["height"], image["mime"]) == (640, 480, "image/png")
    assert image["tokens_estimated"] == 258 * 4  # 640x480: crop unit 320, 2 x 2 tiles
    usage = view["usage"]
    assert usage["prompt_tokens"] and usage["total_tokens"] and usage["calls"] == 1
    assert usage["estimated_tokens"] >= usage["estimated_image_tokens"] > 0


def test_detect_exif_rotated_jpeg(submit: Submit) -> None:
    upright = scene_a(480, 640)
    # Store the pixels rotated, with EXIF orientation 6 saying "rotate 90° clockwise to view".
    stored = upright.image.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
    view = wait_job(submit([buffer.getvalue()], task="detect"))
    assert view["status"] == "succeeded", view["error"]
    assert (view["images"][0]["width"], view["images"][0]["height"]) == (480, 640)
    assert_boxes_match(view, upright)


def test_detect_downscaled_send_maps_to_original_pixels(submit: Submit) -> None:
    scene = scene_a(1600, 1200)
    view = wait_job(submit([scene.encode("PNG")], task="detect"))
    assert view["status"] == "succeeded", view["error"]
    image = view["images"][0]
    assert max(image["sent_width"], image["sent_height"]) == DOWNSCALE_LONGEST_SIDE
    assert (image["width"], image["height"]) == (1600, 1200)
    # The tiny 8x8 object is 5 px once sent; everything maps back onto the original.
    assert_boxes_match(view, scene, tolerance=2.0)


def test_segment_masks(submit: Submit) -> None:
    scene = scene_a()
    view = wait_job(submit([scene.encode("PNG")], task="segment"))
    assert view["status"] == "succeeded", view["error"]
    assert_boxes_match(view, scene)
    ious = mask_iou(view, scene)
    assert min(ious.values()) >= 0.9, ious  # the 8x8 square included
    assert all(m["area"] > 0 for m in view["masks"])


def test_segment_masks_after_downscaled_send(submit: Submit) -> None:
    scene = scene_a(1600, 1200)
    view = wait_job(submit([scene.encode("PNG")], task="segment"))
    assert view["status"] == "succeeded", view["error"]
    assert view["images"][0]["sent_width"] == DOWNSCALE_LONGEST_SIDE
    ious = mask_iou(view, scene)
    assert min(ious.values()) >= 0.9, ious


def test_caption_and_ask(submit: Submit) -> None:
    scene = scene_a()
    caption = wait_job(submit([scene.encode("PNG")], task="caption"))
    assert caption["status"] == "succeeded", caption["error"]
    assert "640" in caption["caption"] and "480" in caption["caption"]
    answer = wait_job(
        submit([scene.encode("WEBP", lossless=True)], task="ask", question="How many objects?")
    )
    assert answer["status"] == "succeeded", answer["error"]
    assert answer["answer"]
    assert answer["images"][0]["mime"] == "image/webp"


def test_classify_picks_from_labels(submit: Submit) -> None:
    scene = make_scene(300, 200, [ShapeSpec("rectangle", (20, 20, 280, 180), "red")])
    view = wait_job(
        submit([scene.encode("PNG")], task="classify", labels=["red things", "blue things"])
    )
    assert view["status"] == "succeeded", view["error"]
    assert view["labels"] and set(view["labels"]) <= {"red things", "blue things"}


def test_compare_two_images(submit: Submit) -> None:
    a, b = scene_a(), make_scene(320, 240, [ShapeSpec("ellipse", (10, 10, 100, 90), "blue")])
    view = wait_job(submit([a.encode("PNG"), b.encode("PNG")], task="compare"))
    assert view["status"] == "succeeded", view["error"]
    assert view["answer"]
    assert [i["width"] for i in view["images"]] == [640, 320]


def test_heic_image_is_accepted(submit: Submit) -> None:
    import pillow_heif

    scene = scene_a()
    heif = pillow_heif.from_pillow(scene.image)
    buffer = io.BytesIO()
    heif.save(buffer, quality=95)
    view = wait_job(submit([buffer.getvalue()], task="detect"))
    assert view["status"] == "succeeded", view["error"]
    assert view["images"][0]["mime"] in ("image/heic", "image/heif")
    big = [o for o in scene.objects if "purple" not in o.label]
    found = {d["label"]: d["box"] for d in view["detections"]}
    for obj in big:  # lossy HEVC blurs edges a little; the large objects still land
        assert np.abs(np.array(found[obj.label]) - np.array(obj.box)).max() <= 3


def test_detect_on_several_images_one_call_each(submit: Submit, emulator: object) -> None:
    scenes = [
        scene_a(),
        scene_a(300, 900),
        make_scene(97, 61, [ShapeSpec("rectangle", (10, 10, 40, 30), "blue")]),
    ]
    view = wait_job(submit([s.encode("PNG") for s in scenes], task="detect"))
    assert view["status"] == "succeeded", view["error"]
    assert view["usage"]["calls"] == 3
    for position, scene in enumerate(scenes):
        own = {**view, "detections": [d for d in view["detections"] if d["image"] == position]}
        assert_boxes_match(own, scene)
