"""The terminal job table leaves out what is not known instead of printing None."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from cli.tables import job_table


def rendered(view: dict[str, Any]) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(job_table(view))
    return console.export_text()


def failed_before_decoding() -> dict[str, Any]:
    """The view of a job whose only image was refused before anything was measured or sent."""
    return {
        "id": "f" * 32,
        "status": "failed",
        "error": {"code": "image_unsupported_type", "message": "image 1 (a.gif): GIF"},
        "task": "caption",
        "model": "gemini-2.5-flash",
        "images": [
            {
                "sha256": "a" * 64,
                "source_url": None,
                "filename": "a.gif",
                "width": None,
                "height": None,
                "mime": None,
                "transport": None,
                "tokens_estimated": None,
            }
        ],
        "caption": None,
        "answer": None,
        "labels": None,
        "detections": [],
        "masks": [],
        "usage": {
            "estimated_tokens": None,
            "prompt_tokens": None,
            "candidates_tokens": None,
            "thoughts_tokens": None,
            "total_tokens": None,
            "cost_usd": None,
        },
    }


def test_unknown_values_are_left_out() -> None:
    text = rendered(failed_before_decoding())
    assert "None" not in text
    assert "image_unsupported_type: image 1 (a.gif): GIF" in text
    assert "a.gif" in text and "tokens" not in text


def test_known_values_are_all_shown() -> None:
    view = failed_before_decoding()
    view["status"], view["error"] = "succeeded", None
    view["images"][0].update(
        width=640, height=480, mime="image/png", transport="inline", tokens_estimated=258
    )
    view["usage"].update(
        estimated_tokens=270,
        prompt_tokens=265,
        candidates_tokens=12,
        thoughts_tokens=0,
        total_tokens=277,
        cost_usd=0.0001,
    )
    text = rendered(view)
    assert "a.gif 640x480 image/png via inline, ~258 tokens" in text
    assert "estimated 270, billed prompt 265 + output 12 + thoughts 0 = 277" in text
    assert "$0.000100" in text
