"""The model a job runs on, chosen at intake: routing segment jobs, options checked by model."""

from __future__ import annotations

from typing import Any

import pytest

from api.client import ImageJobsClient, ImageJobsError
from imagejobs.emulator import EmulatorServer
from tests.api.conftest import scene_png
from tests.e2e.test_tasks import mask_iou, scene_a
from tests.services import WorkerProcess

pytestmark = pytest.mark.slow


def _calls(emulator: EmulatorServer, model: str) -> int:
    counts = emulator.control.stats()["by_model"].get(model, {})
    return sum(v for k, v in counts.items() if not k.endswith("_last_60s"))


def test_segment_on_a_3x_model_is_routed_and_answers_with_masks(
    client: ImageJobsClient, worker: WorkerProcess, emulator: EmulatorServer
) -> None:
    before = _calls(emulator, "gemini-3.8-flash"), _calls(emulator, "gemini-2.5-flash-lite")
    job = client.submit(
        [scene_png()],
        task="segment",
        model="gemini-3.8-flash",
        options={"thinking_level": "LOW", "temperature": 0.3},
    )
    assert job["model"] == "gemini-2.5-flash-lite"  # stored as the model that answers
    assert job["requested_model"] == "gemini-3.8-flash"
    assert job["options"] == {}  # temperature ignored by 3.8, thinking_level unknown to 2.5
    assert any(n.startswith("segment routed from gemini-3.8-flash") for n in job["notes"])
    done = client.wait(job["id"], timeout=60)
    assert done["status"] == "succeeded", done["error"]
    after = _calls(emulator, "gemini-3.8-flash"), _calls(emulator, "gemini-2.5-flash-lite")
    assert (after[0] - before[0], after[1] - before[1]) == (0, 1)  # 2.5 Flash-Lite answered
    assert "requested_model" not in done["params"] and "model_notes" not in done["params"]
    ious = mask_iou(done, scene_a())
    assert min(ious.values()) >= 0.9, ious


def test_segment_on_the_segmentation_model_and_by_default(
    client: ImageJobsClient, worker: WorkerProcess
) -> None:
    direct = client.submit([scene_png()], task="segment", model="gemini-2.5-flash-lite")
    default = client.submit([scene_png()], task="segment")
    caption = client.submit([scene_png()], task="caption")
    assert caption["model"] == "gemini-3.8-flash"
    for job in (direct, default):
        assert (job["model"], job["requested_model"], job["notes"]) == (
            "gemini-2.5-flash-lite",
            None,
            [],
        )
        done = client.wait(job["id"], timeout=60)
        assert done["status"] == "succeeded", done["error"]
        assert min(mask_iou(done, scene_a()).values()) >= 0.9


def test_thinking_level_reaches_a_3x_model(client: ImageJobsClient, worker: WorkerProcess) -> None:
    job = client.submit(
        [scene_png()], task="caption", model="gemini-3.5-flash", options={"thinking_level": "low"}
    )
    assert job["options"] == {"thinking_level": "LOW"}
    done = client.wait(job["id"], timeout=60)
    assert done["status"] == "succeeded", done["error"]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"model": "gemini-9000-ultra"}, "model", "unknown model 'gemini-9000-ultra'"),
        (
            {"model": "gemini-3.8-flash", "options": {"thinking_budget": 1024}},
            "options.thinking_budget",
            "thinking_budget is not accepted by gemini-3.8-flash: use thinking_level",
        ),
        (
            {"model": "gemini-3.8-flash", "options": {"thinking_level": "minimal"}},
            "options.thinking_level",
            "thinking_level MINIMAL is not accepted by gemini-3.8-flash",
        ),
        (
            {"model": "gemini-2.5-flash-lite", "options": {"thinking_level": "LOW"}},
            "options.thinking_level",
            "use thinking_budget",
        ),
        (
            {"model": "gemini-2.5-flash-lite", "options": {"media_resolution": "HIGH"}},
            "options.media_resolution",
            "Per-part media resolution is not supported",
        ),
        ({"options": {"thinking_level": "lots"}}, "options.thinking_level", "unknown"),
    ],
)
def test_options_the_model_refuses_are_422_naming_the_field(
    client: ImageJobsClient, fields: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ImageJobsError) as caught:
        client.submit([scene_png()], task="caption", **fields)
    assert caught.value.status == 422
    error = caught.value.problem["errors"][0]
    assert error["field"] == field and words in error["message"], error


def test_fallback_models_are_checked_at_intake_and_shown(client: ImageJobsClient) -> None:
    with pytest.raises(ImageJobsError) as unknown:
        client.submit([scene_png()], task="caption", fallback_models=["gemini-0-nonsense"])
    assert unknown.value.status == 422
    assert unknown.value.problem["errors"][0]["field"] == "fallback_models[0]"
    with pytest.raises(ImageJobsError) as cannot:
        client.submit([scene_png()], task="segment", fallback_models=["gemini-3-flash-preview"])
    assert "cannot do segment" in cannot.value.problem["detail"]
    job = client.submit(
        [scene_png()],
        task="caption",
        model="gemini-2.5-flash",
        fallback_models=["models/gemini-2.5-flash-lite", "gemini-2.5-flash"],
        cache=False,
        on_budget="wait",
    )
    # names as the registry spells them; the job's own model is not its own fallback
    assert job["fallback_models"] == ["gemini-2.5-flash-lite"]
    assert (job["cache"], job["on_budget"], job["answered_model"]) == (False, "wait", None)
