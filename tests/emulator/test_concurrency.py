# mypy: disable-error-code="arg-type"
# (google-genai types `contents` as invariant list unions; plain list literals trip mypy.)
"""The async SDK client against one emulator: slow calls overlap instead of queueing."""

from __future__ import annotations

import asyncio

from google import genai

from imagejobs.emulator import EmulatorControl
from imagejobs.emulator.scenes import Scene


def test_fifty_concurrent_slow_calls_are_all_in_flight_together(
    client: genai.Client, control: EmulatorControl, scene: Scene
) -> None:
    control.set_faults(latency_s=0.2)

    async def run() -> list[str]:
        calls = [
            client.aio.models.generate_content(
                model="gemini-2.5-flash", contents=[scene.image, f"Describe #{i}"]
            )
            for i in range(50)
        ]
        return [r.text or "" for r in await asyncio.gather(*calls)]

    texts = asyncio.run(run())
    assert len(texts) == 50 and all(t.startswith("[imagejobs emulator]") for t in texts)
    stats = control.stats()
    assert stats["calls"]["generateContent"] == 50
    assert stats["max_in_flight"] == 50
    assert stats["in_flight"] == 0
