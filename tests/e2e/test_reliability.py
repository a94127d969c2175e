"""Transport, duplicate delivery, retries, permanent errors, bad input, recorded real outputs."""

from __future__ import annotations

import io
import json
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from imagejobs.broker.names import QUEUE, RUN_JOB
from imagejobs.broker.queue import JobQueue
from imagejobs.emulator import EmulatorServer
from imagejobs.emulator.scenes import ShapeSpec, make_scene
from imagejobs.settings import get_settings
from imagejobs.store.db import session_scope
from imagejobs.store.models import UploadedFile
from tests.e2e.conftest import Submit, wait_job
from tests.e2e.test_tasks import assert_boxes_match, scene_a
from tests.recorded import load_records

pytestmark = pytest.mark.slow


def padded_png(image: Image.Image, total_bytes: int, seed: int) -> bytes:
    """A valid PNG of ``image`` padded to ``total_bytes`` with a private ancillary chunk.

    Decoders skip the chunk, so the picture stays small to analyse while the request is as big
    as a large photo: exactly what decides inline versus the Files API.
    """
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    png = buffer.getvalue()
    pad = total_bytes - len(png) - 12
    payload = np.random.default_rng(seed).integers(0, 256, pad, dtype=np.uint8).tobytes()
    chunk = struct.pack(">I", pad) + b"prIv" + payload
    chunk += struct.pack(">I", zlib.crc32(b"prIv" + payload) & 0xFFFFFFFF)
    iend = png.rindex(b"IEND") - 4
    return png[:iend] + chunk + png[iend:]


def test_large_image_goes_through_files_api_once_for_five_jobs(
    submit: Submit, emulator: EmulatorServer
) -> None:
    scene = scene_a()
    big = padded_png(scene.image, 30 * 1024 * 1024, seed=1)
    small = scene.encode("PNG")
    big_jobs = [submit([big], task="detect") for _ in range(5)]
    small_job = submit([small], task="detect")
    views = [wait_job(job_id, timeout_s=120) for job_id in [*big_jobs, small_job]]
    for view in views:
        assert view["status"] == "succeeded", view["error"]
        assert_boxes_match(view, scene)
    assert [v["images"][0]["transport"] for v in views] == ["file"] * 5 + ["inline"]
    stats = emulator.control.stats()
    assert stats["calls"]["upload"] == 1, stats
    assert stats["bytes_uploaded"] == len(big)
    assert stats["calls"]["generateContent"] == 6
    with session_scope(get_settings().effective_database_url) as session:
        files = session.query(UploadedFile).filter(UploadedFile.size_bytes == len(big)).all()
        assert len(files) == 1


def test_message_delivered_twice_calls_gemini_once(
    submit: Submit, emulator: EmulatorServer
) -> None:
    emulator.control.set_faults(latency_s=0.5)
    job_id = submit([scene_a().encode("PNG")], task="caption")
    JobQueue(get_settings()).celery.send_task(
        RUN_JOB, args=[job_id], queue=QUEUE
    )  # a redelivery of the same message
    view = wait_job(job_id)
    time.sleep(1.0)  # let the second message be consumed too
    assert view["status"] == "succeeded"
    assert emulator.control.stats()["calls"]["generateContent"] == 1
    assert wait_job(job_id)["attempts"] == 1


def test_429_retry_delay_is_honoured(submit: Submit, emulator: EmulatorServer) -> None:
    emulator.control.script(
        [
            {
                "error": {
                    "code": 429,
                    "status": "RESOURCE_EXHAUSTED",
                    "message": "You exceeded your current quota",
                    "retryDelay": "2s",
                }
            }
        ]
    )
    started = time.monotonic()
    view = wait_job(submit([scene_a().encode("PNG")], task="caption"))
    elapsed = time.monotonic() - started
    assert view["status"] == "succeeded", view["error"]
    assert view["attempts"] == 2
    assert elapsed >= 2.0  # the second call waited for Gemini's retryDelay
    assert emulator.control.stats()["calls"]["generateContent"] == 2


def test_long_retry_delay_parks_the_job(submit: Submit, emulator: EmulatorServer) -> None:
    emulator.control.script(
        [
            {
                "error": {
                    "code": 429,
                    "status": "RESOURCE_EXHAUSTED",
                    "message": "quota",
                    "retryDelay": "6s",
                }
            }
        ]
    )
    job_id = submit([scene_a().encode("PNG")], task="caption")
    deadline = time.monotonic() + 10
    parked = None
    while time.monotonic() < deadline:
        parked = wait_job_status(job_id)
        if parked["status"] == "queued" and parked["next_attempt_at"]:
            break
        time.sleep(0.1)
    assert parked and parked["status"] == "queued" and parked["error"]["code"] == "gemini_429"
    view = wait_job(job_id, timeout_s=30)  # the sweeper enqueues it again when due
    assert view["status"] == "succeeded" and view["attempts"] == 2


def wait_job_status(job_id: str) -> dict:
    from imagejobs.results.view import job_view

    with session_scope(get_settings().effective_database_url) as session:
        return job_view(session, job_id)


def test_permanent_400_fails_with_geminis_message(submit: Submit, emulator: EmulatorServer) -> None:
    emulator.control.script(
        [
            {
                "error": {
                    "code": 400,
                    "status": "INVALID_ARGUMENT",
                    "message": "Unable to process input image. Please retry or report.",
                }
            }
        ]
    )
    view = wait_job(submit([scene_a().encode("PNG")], task="caption"))
    assert view["status"] == "failed"
    assert view["error"]["code"] == "gemini_400"
    assert "Unable to process input image" in view["error"]["message"]
    assert view["attempts"] == 1


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height``: refused before decoding."""
    raw = zlib.compress(b"\x00" * 1024)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def test_bad_inputs_fail_clearly_while_others_succeed(
    submit: Submit, emulator: EmulatorServer
) -> None:
    good = scene_a().encode("PNG")
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, format="GIF")
    cases = {
        "corrupt": good[: len(good) // 2],
        "unsupported": gif.getvalue(),
        "bomb": bomb_png(60_000, 60_000),
    }
    bad_jobs = {name: submit([data], task="detect") for name, data in cases.items()}
    good_job = submit([good], task="detect")
    views = {name: wait_job(job_id) for name, job_id in bad_jobs.items()}
    assert views["corrupt"]["error"]["code"] == "image_corrupt"
    assert views["unsupported"]["error"]["code"] == "image_unsupported_type"
    assert "GIF" in views["unsupported"]["error"]["message"]
    assert views["bomb"]["error"]["code"] in ("image_too_many_pixels", "image_decompression_bomb")
    for view in views.values():
        assert view["status"] == "failed"
        assert view["error"]["message"].startswith("image 1 (img0)")
    assert wait_job(good_job)["status"] == "succeeded"
    assert emulator.control.stats()["calls"].get("generateContent", 0) == 1


def _fixture(source_contains: str, kind: str) -> dict:
    records = load_records()
    for record in records:
        haystack = (record.get("raw_text") or "") + json.dumps(record.get("image"))
        if record["kind"] == kind and source_contains in haystack:
            return record
    raise LookupError(source_contains)


@pytest.mark.parametrize(
    ("needle", "expected"),
    [
        # socks.jpg 640x482, Gemini 2.0: fenced JSON.
        ('sock with face"}', [[159, 26, 337, 187], [424, 114, 552, 315]]),
        # spill.jpg 640x480: prose before and after the fence; an edge box at 1000.
        ("Here are the bounding box detections", None),
    ],
)
def test_recorded_real_outputs_parse_to_pixel_boxes(
    submit: Submit, emulator: EmulatorServer, needle: str, expected: list | None
) -> None:
    record = _fixture(needle, "detection")
    width, height = record["image"]["width"], record["image"]["height"]
    emulator.control.script([{"text": record["raw_text"], "finishReason": "STOP"}])
    canvas = make_scene(width, height, [ShapeSpec("rectangle", (10, 10, 50, 50), "red")])
    view = wait_job(submit([canvas.encode("PNG")], task="detect"))
    assert view["status"] == "succeeded", view["error"]
    raw = json.loads(record["raw_text"].split("```json")[1].split("```")[0])
    assert [d["box_2d"] for d in view["detections"]] == [r["box_2d"] for r in raw]
    for det in view["detections"]:
        ymin, xmin, ymax, xmax = det["box_2d"]
        want = [
            round(xmin / 1000 * width),
            round(ymin / 1000 * height),
            round(xmax / 1000 * width),
            round(ymax / 1000 * height),
        ]
        assert np.abs(np.array(det["box"]) - np.array(want)).max() <= 1
    if expected is not None:
        assert [d["box"] for d in view["detections"]] == expected


def test_truncated_output_fails_clearly(submit: Submit, emulator: EmulatorServer) -> None:
    record = _fixture("Cupcakes", "detection")
    cut = record["raw_text"][: len(record["raw_text"]) // 2]
    emulator.control.script([{"text": cut, "finishReason": "MAX_TOKENS"}])
    view = wait_job(submit([scene_a().encode("PNG")], task="detect"))
    assert view["status"] == "failed"
    assert view["error"]["code"] == "output_truncated"
    assert "MAX_TOKENS" in view["error"]["message"]
    assert view["usage"]["calls"] == 1 and view["usage"]["prompt_tokens"]


def test_seg_token_masks_are_kept_as_boxes(submit: Submit, emulator: EmulatorServer) -> None:
    text = json.dumps(
        [
            {
                "box_2d": [100, 100, 500, 600],
                "label": "microwave",
                "mask": "<start_of_mask><seg_115><seg_7><seg_80>",
            },
            {"box_2d": [600, 700, 400, 900], "label": "swapped corners", "mask": None},
        ]
    )
    emulator.control.script([{"text": "```\n" + text + "\n```", "finishReason": "STOP"}])
    view = wait_job(submit([scene_a().encode("PNG")], task="segment"))
    assert view["status"] == "succeeded", view["error"]
    assert [d["box"] for d in view["detections"]] == [[64, 48, 384, 240], [448, 192, 576, 288]]
    problems = [m["problem"] for m in view["masks"]]
    assert problems[0].startswith("seg_tokens") and problems[1].startswith("missing")


def test_job_never_enqueued_is_sent_by_the_sweeper(worker: object) -> None:
    from imagejobs.core.jobspec import JobSpec
    from imagejobs.runtime import Runtime
    from imagejobs.submission import ImageInput, submit_job

    submitted = submit_job(
        Runtime.from_settings(get_settings()),
        JobSpec(task="caption"),
        [ImageInput(data=scene_a().encode("PNG"))],
        enqueue=False,  # as if the broker had been down when the job was accepted
    )
    assert wait_job(submitted.job_id)["status"] == "succeeded"


def test_deadline_passed_fails_without_calling_gemini(
    submit: Submit, emulator: EmulatorServer
) -> None:
    from datetime import UTC, datetime, timedelta

    past = datetime.now(UTC) - timedelta(seconds=1)
    view = wait_job(submit([scene_a().encode("PNG")], task="caption", deadline=past))
    assert view["status"] == "failed" and view["error"]["code"] == "deadline_exceeded"
    assert emulator.control.stats()["calls"].get("generateContent", 0) == 0
