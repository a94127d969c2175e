"""Fixtures: one in-process emulator per session, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google import genai
from google.genai import types

from imagejobs.emulator import EmulatorControl, EmulatorServer
from imagejobs.emulator.scenes import Scene, ShapeSpec, make_scene


@pytest.fixture(scope="session")
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_emulator(request: pytest.FixtureRequest) -> None:
    if "emu" in request.fixturenames:
        request.getfixturevalue("emu").control.reset()


@pytest.fixture
def control(emu: EmulatorServer) -> EmulatorControl:
    return emu.control


@pytest.fixture
def client(emu: EmulatorServer) -> genai.Client:
    """google-genai 3.x with its default api_version (v1)."""
    return genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=emu.base_url))


@pytest.fixture
def client_beta(emu: EmulatorServer) -> genai.Client:
    return genai.Client(
        api_key="test-key",
        http_options=types.HttpOptions(base_url=emu.base_url, api_version="v1beta"),
    )


@pytest.fixture(scope="session")
def scene() -> Scene:
    """A 640x480 scene: red rectangle, blue ellipse, green rectangle."""
    return make_scene(
        640,
        480,
        [
            ShapeSpec("rectangle", (40, 30, 200, 130), "red"),
            ShapeSpec("ellipse", (300, 200, 500, 400), "blue"),
            ShapeSpec("rectangle", (60, 300, 120, 420), "green"),
        ],
    )


@pytest.fixture(scope="session")
def scene_png(scene: Scene) -> bytes:
    return scene.encode("PNG")
