"""The SDK's automatic function calling is off: a call logs no "AFC is enabled" line (the SDK
logs one at INFO on every generate_content call otherwise)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from imagejobs.emulator import EmulatorServer
from imagejobs.emulator.scenes import ShapeSpec, make_scene
from imagejobs.gemini import GenerateRequest, InlineImage
from imagejobs.gemini.client import GenaiGemini

PNG = make_scene(160, 100, [ShapeSpec("ellipse", (20, 20, 80, 80), "blue")]).encode("PNG")


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


def test_a_call_logs_no_afc_line(emu: EmulatorServer, caplog: pytest.LogCaptureFixture) -> None:
    gemini = GenaiGemini(api_key="test", base_url=emu.base_url, timeout_s=5)
    try:
        with caplog.at_level(logging.DEBUG):
            reply = gemini.generate(
                GenerateRequest("gemini-2.5-flash", [InlineImage(PNG, "image/png")], "Caption it.")
            )
    finally:
        gemini.close()
    assert reply.text
    sdk_records = [r for r in caplog.records if r.name.startswith("google_genai")]
    assert not [r for r in sdk_records if "AFC" in r.getMessage()], [
        r.getMessage() for r in sdk_records
    ]
