"""The ``imagejobs`` command line, run as a user runs it: a separate process."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from imagejobs.emulator import EmulatorServer
from tests.e2e.test_tasks import assert_boxes_match, scene_a
from tests.services import REPO, WorkerProcess

pytestmark = pytest.mark.slow


def imagejobs(*args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        cwd=cwd,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_submit_wait_show_and_overlay(worker: WorkerProcess, tmp_path: Path) -> None:
    scene = scene_a()
    image = tmp_path / "scene.png"
    image.write_bytes(scene.encode("PNG"))
    view = json.loads(imagejobs("submit", str(image), "--task", "segment", "--wait", "--json"))
    assert view["status"] == "succeeded"
    assert_boxes_match(view, scene)
    assert {"sha256", "width", "height", "mime", "transport", "tokens_estimated"} <= set(
        view["images"][0]
    )
    assert {"label", "box", "area", "mask_png"} <= set(view["masks"][0])
    assert {
        "estimated_tokens",
        "prompt_tokens",
        "candidates_tokens",
        "thoughts_tokens",
        "total_tokens",
        "cost_usd",
    } <= set(view["usage"])
    assert view["usage"]["cost_usd"] > 0

    shown = json.loads(imagejobs("show", view["id"], "--json"))
    assert shown["detections"] == view["detections"]
    assert "segment" in imagejobs("show", view["id"])  # the human table

    out = tmp_path / "overlay.png"
    imagejobs("overlay", view["id"], "-o", str(out))
    with Image.open(out) as drawn:
        assert drawn.size == (640, 480)
        # Inside the red rectangle the overlay tints the object; far from objects it is untouched.
        assert drawn.convert("RGB").getpixel((5, 5)) == scene.image.getpixel((5, 5))
        assert drawn.convert("RGB").getpixel((120, 110)) != scene.image.getpixel((120, 110))


def test_human_output_shows_model_text_verbatim(worker: WorkerProcess, tmp_path: Path) -> None:
    image = tmp_path / "scene.png"
    image.write_bytes(scene_a().encode("PNG"))
    out = imagejobs("submit", str(image), "--task", "caption", "--wait")
    assert "[imagejobs emulator]" in out  # model text is printed, never read as markup


def test_a_truncated_jpeg_fails_as_corrupt_without_a_gemini_call(
    worker: WorkerProcess, emulator: EmulatorServer, tmp_path: Path
) -> None:
    out = io.BytesIO()
    Image.effect_noise((400, 300), 60).convert("RGB").save(out, format="JPEG")
    image = tmp_path / "cut.jpg"
    image.write_bytes(out.getvalue()[: len(out.getvalue()) * 3 // 4])
    before = emulator.control.stats()["calls"].get("generateContent", 0)
    result = subprocess.run(
        [sys.executable, "-m", "cli", "submit", str(image), "--task", "caption", "--wait"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "image_corrupt" in result.stdout and "truncated" in result.stdout
    assert "None" not in result.stdout  # nothing known is left out, not printed as None
    assert emulator.control.stats()["calls"].get("generateContent", 0) == before


def test_submit_refuses_bad_arguments(worker: WorkerProcess, tmp_path: Path) -> None:
    image = tmp_path / "x.png"
    image.write_bytes(scene_a().encode("PNG"))
    result = subprocess.run(
        [sys.executable, "-m", "cli", "submit", str(image), "--task", "classify"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 2
    assert "classify" in result.stderr and "labels" in result.stderr


def test_demo_runs_on_embedded_defaults(tmp_path: Path) -> None:
    """A fresh folder, nothing configured: SQLite, the embedded broker and the emulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGEJOBS_", "GEMINI_"))}
    env.pop("GOOGLE_API_KEY", None)
    env["COLUMNS"] = "160"
    env["XDG_DATA_HOME"] = str(tmp_path / "data")  # the user's data folder, not the cwd
    venv_bin = str(Path(sys.executable).parent)  # as after a fresh clone: not on PATH
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    out = imagejobs("demo", "-o", str(tmp_path / "overlays"), env=env, cwd=tmp_path)
    assert "9 of 9 jobs succeeded" in out
    assert "[imagejobs emulator]" in out
    assert (tmp_path / "data" / "imagejobs" / "imagejobs.db").exists()
    # The closing hint is a command that works as printed, from here.
    hint = re.search(r"^inspect one: (.+) show ([0-9a-f]{32})$", out, re.MULTILINE)
    assert hint, out
    shown = subprocess.run(
        [*shlex.split(hint.group(1)), "show", hint.group(2)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert shown.returncode == 0 and "succeeded" in shown.stdout, shown.stderr
    written = sorted(p.name for p in (tmp_path / "overlays").iterdir())
    assert "segment-scene-1.png" in written and len(written) >= 5


def test_list_shows_jobs_newest_first_with_filters(worker: WorkerProcess, tmp_path: Path) -> None:
    image = tmp_path / "scene.png"
    image.write_bytes(scene_a().encode("PNG"))
    caption = json.loads(imagejobs("submit", str(image), "--task", "caption", "--wait", "--json"))
    detect = json.loads(imagejobs("submit", str(image), "--task", "detect", "--wait", "--json"))
    listed = json.loads(imagejobs("list", "--limit", "2", "--json"))
    assert [item["id"] for item in listed] == [detect["id"], caption["id"]]
    assert listed[0]["status"] == "succeeded" and listed[0]["task"] == "detect"
    only_captions = json.loads(imagejobs("list", "--task", "caption", "--limit", "50", "--json"))
    assert caption["id"] in {i["id"] for i in only_captions}
    assert {i["task"] for i in only_captions} == {"caption"}
    assert detect["id"] in imagejobs("list", "--status", "succeeded")  # the human table
    refused = subprocess.run(
        [sys.executable, "-m", "cli", "list", "--status", "done"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "error: --status: unknown status 'done'; one of queued, running, succeeded, failed, "
        "canceled"
    ]


def test_submit_takes_the_governance_fields(worker: WorkerProcess, tmp_path: Path) -> None:
    image = tmp_path / "x.png"
    image.write_bytes(scene_a().encode("PNG"))
    job_id = imagejobs(
        "submit", str(image), "--task", "caption", "--model", "gemini-2.5-flash",
        "--fallback-model", "gemini-2.5-flash-lite", "--no-cache", "--on-budget", "wait",
    ).strip()  # fmt: skip
    view = json.loads(imagejobs("show", job_id, "--json"))
    assert view["fallback_models"] == ["gemini-2.5-flash-lite"]
    assert (view["cache"], view["on_budget"]) == (False, "wait")
    refused = subprocess.run(
        [sys.executable, "-m", "cli", "submit", str(image), "--task", "segment",
         "--fallback-model", "gemini-3-flash-preview"],
        capture_output=True, text=True, cwd=REPO, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "fallback_models[0]" in refused.stderr and "cannot do segment" in refused.stderr
