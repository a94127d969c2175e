"""Serialising one generateContent request (prints its figures; no network, no services).

For a caption and a detect request carrying a photo-like 1 MP JPEG (~245 KB), in one run:
the way google-genai sends a body (the dict with URL-safe base64, ``json.dumps`` of it, encoded
to bytes as httpx does) against ``imagejobs.gemini.wire.request_json`` (the image's base64
written straight into the JSON). Run: ``.venv/bin/python bench/request_body.py [rounds]``.
"""

from __future__ import annotations

import base64
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from perf_images import photo_1mp  # noqa: E402

from imagejobs.core.prompts import build_prompt  # noqa: E402
from imagejobs.gemini.port import GenerateRequest, InlineImage  # noqa: E402
from imagejobs.gemini.wire import request_body, request_json  # noqa: E402

CALLS = 200


def request(task: str, image: bytes) -> GenerateRequest:
    spec = build_prompt(task)
    return GenerateRequest(
        model="gemini-3.8-flash",
        images=[InlineImage(image, "image/jpeg")],
        text=spec.text,
        system_instruction=spec.system_instruction,
        response_mime_type=spec.response_mime_type,
        response_schema=spec.response_schema,
    )


def as_the_sdk_sends(req: GenerateRequest) -> bytes:
    data = [base64.urlsafe_b64encode(i.data).decode("ascii") for i in req.images]  # type: ignore[union-attr]
    return json.dumps(request_body(req, inline_data=iter(data))).encode()


def cpu_ms(make: Callable[[GenerateRequest], bytes], req: GenerateRequest) -> float:
    started = time.process_time()
    for _ in range(CALLS):
        make(req)
    return (time.process_time() - started) / CALLS * 1000


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    image = photo_1mp()
    print(
        f"one request with a {len(image) // 1000} KB 1000x1000 JPEG; CPU per request, "
        f"median of {rounds} rounds of {CALLS}"
    )
    for task in ("caption", "detect"):
        req = request(task, image)
        assert json.loads(request_json(req)) == request_body(req)
        sdk, ours = [], []
        for _ in range(rounds):  # interleaved
            sdk.append(cpu_ms(as_the_sdk_sends, req))
            ours.append(cpu_ms(request_json, req))
        a, b = statistics.median(sdk), statistics.median(ours)
        print(
            f"  {task:8s} as the SDK sends it {a:6.3f} ms, request_json {b:6.3f} ms: {a / b:4.1f}x"
        )


if __name__ == "__main__":
    main()
