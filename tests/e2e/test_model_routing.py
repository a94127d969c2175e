"""Specs built in code (CLI, demo) get the same model choice at submission as intake makes."""

from __future__ import annotations

import pytest

from imagejobs.core.jobspec import JobSpec
from imagejobs.runtime import Runtime
from imagejobs.settings import get_settings
from imagejobs.submission import ImageInput, ModelNotUsable, submit_job
from tests.e2e.conftest import Submit, wait_job
from tests.e2e.test_tasks import mask_iou, scene_a


def test_segment_spec_on_a_3x_model_is_routed_at_submission(submit: Submit) -> None:
    scene = scene_a()
    view = wait_job(submit([scene.encode("PNG")], task="segment", model="gemini-3.5-flash"))
    assert view["status"] == "succeeded", view["error"]
    assert (view["model"], view["requested_model"]) == ("gemini-2.5-flash-lite", "gemini-3.5-flash")
    assert min(mask_iou(view, scene).values()) >= 0.9


def test_unusable_model_is_refused_at_submission() -> None:
    runtime = Runtime.from_settings(get_settings())
    with pytest.raises(ModelNotUsable, match="model: unknown model 'gemini-0-nano'"):
        spec = JobSpec(task="caption", model="gemini-0-nano")
        submit_job(runtime, spec, [ImageInput(data=scene_a().encode("PNG"))])
