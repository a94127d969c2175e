# mypy: disable-error-code="arg-type"
# (google-genai types `contents` as invariant list unions; plain list literals trip mypy.)
"""generateContent, streaming and countTokens through the installed google-genai SDK."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest
from google import genai
from google.genai import errors, types

from imagejobs.core import tokens
from imagejobs.emulator import EmulatorControl, EmulatorServer
from imagejobs.emulator.scenes import Scene, make_scene

DETECT = "Detect all objects. Return box_2d [ymin, xmin, ymax, xmax] normalised to 0-1000."


def png_part(data: bytes) -> types.Part:
    return types.Part.from_bytes(data=data, mime_type="image/png")


def test_inline_bytes_detection_is_fenced_json_with_full_response_fields(
    client: genai.Client, scene: Scene, scene_png: bytes
) -> None:
    response = client.models.generate_content(
        model="gemini-2.5-flash", contents=[png_part(scene_png), DETECT]
    )
    text = response.text or ""
    assert text.startswith("```json\n") and text.endswith("\n```")
    items = json.loads(text.removeprefix("```json\n").removesuffix("\n```"))
    assert [item["label"] for item in items] == [o.label for o in scene.objects]
    assert response.candidates and response.candidates[0].content
    assert response.candidates[0].content.role == "model"
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.model_version == "gemini-2.5-flash"
    usage = response.usage_metadata
    assert usage is not None and usage.prompt_tokens_details
    by_modality = {d.modality: d.token_count for d in usage.prompt_tokens_details}
    image = tokens.image_tokens("gemini-2.5-flash", 640, 480)
    assert by_modality[types.MediaModality.IMAGE] == image
    assert by_modality[types.MediaModality.TEXT] == tokens.text_tokens(DETECT)
    assert usage.prompt_token_count == image + tokens.text_tokens(DETECT)
    assert usage.candidates_token_count == tokens.text_tokens(text)
    assert usage.thoughts_token_count == 16
    assert usage.total_token_count == (
        usage.prompt_token_count + usage.candidates_token_count + usage.thoughts_token_count
    )


def test_pil_image_with_json_mode_and_schema_returns_bare_json_parsed(
    client_beta: genai.Client, scene: Scene
) -> None:
    schema = {
        "type": "ARRAY",
        "items": {
            "type": "OBJECT",
            "properties": {
                "box_2d": {"type": "ARRAY", "items": {"type": "INTEGER"}},
                "label": {"type": "STRING"},
            },
            "required": ["box_2d", "label"],
        },
    }
    config = types.GenerateContentConfig(
        response_mime_type="application/json",
        response_schema=schema,
        thinking_config=types.ThinkingConfig(thinking_budget=0),
    )
    response = client_beta.models.generate_content(
        model="gemini-2.5-flash", contents=[scene.image, "Find the objects"], config=config
    )
    assert response.parsed == json.loads(response.text or "")
    assert isinstance(response.parsed, list)
    assert [item["label"] for item in response.parsed] == [o.label for o in scene.objects]
    assert response.usage_metadata and response.usage_metadata.thoughts_token_count == 0


def test_caption_is_honest_prose_about_measurements(client: genai.Client, scene: Scene) -> None:
    response = client.models.generate_content(
        model="gemini-2.0-flash", contents=[scene.image, "Describe this image."]
    )
    text = response.text or ""
    assert text.startswith("[imagejobs emulator]")
    assert "640x480" in text and "3 distinct regions" in text
    for obj in scene.objects:
        assert obj.label in text
    assert response.usage_metadata and response.usage_metadata.thoughts_token_count == 0


def test_streaming_yields_chunks_that_join_to_the_answer(
    client: genai.Client, scene: Scene, control: EmulatorControl
) -> None:
    whole = client.models.generate_content(
        model="gemini-2.5-flash", contents=[scene.image, "Describe this image."]
    ).text
    chunks = list(
        client.models.generate_content_stream(
            model="gemini-2.5-flash", contents=[scene.image, "Describe this image."]
        )
    )
    assert len(chunks) > 1
    assert "".join(c.text or "" for c in chunks) == whole
    last = chunks[-1]
    assert last.candidates and last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata and last.usage_metadata.candidates_token_count
    assert control.stats()["calls"]["streamGenerateContent"] == 1


def test_count_tokens_follows_the_tile_rule_docs_example(client: genai.Client) -> None:
    image = make_scene(960, 540, []).image
    result = client.models.count_tokens(model="gemini-2.5-flash", contents=[image, "abcdefgh"])
    assert result.total_tokens == 1548 + 2


@pytest.mark.parametrize(
    ("resolution", "expected"),
    [(None, 1120), ("MEDIA_RESOLUTION_LOW", 280), ("MEDIA_RESOLUTION_MEDIUM", 560)],
)
def test_gemini3_bills_by_media_resolution(
    client: genai.Client, resolution: str | None, expected: int
) -> None:
    image = make_scene(960, 540, []).image
    config = types.GenerateContentConfig(media_resolution=resolution) if resolution else None
    response = client.models.generate_content(
        model="gemini-3-flash-preview", contents=[image], config=config
    )
    assert response.usage_metadata and response.usage_metadata.prompt_tokens_details
    image_tokens = [
        d.token_count
        for d in response.usage_metadata.prompt_tokens_details
        if d.modality == types.MediaModality.IMAGE
    ]
    assert image_tokens == [expected]


def test_max_output_tokens_truncates_with_max_tokens(client: genai.Client, scene: Scene) -> None:
    config = types.GenerateContentConfig(
        max_output_tokens=30, thinking_config=types.ThinkingConfig(thinking_budget=0)
    )
    response = client.models.generate_content(
        model="gemini-2.5-flash", contents=[scene.image, DETECT], config=config
    )
    assert response.candidates and response.candidates[0].finish_reason == "MAX_TOKENS"
    assert len(response.text or "") == 120


def test_errors_surface_as_sdk_exceptions_with_retry_delay(
    client: genai.Client, scene: Scene, control: EmulatorControl
) -> None:
    control.set_faults(rate_429=1.0, retry_delay_s=7)
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-2.5-flash", contents=[scene.image, "x"])
    assert info.value.code == 429 and info.value.status == "RESOURCE_EXHAUSTED"
    details = info.value.details["error"]["details"]
    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"} in details
    control.set_faults(rate_429=0.0, rate_503=1.0)
    with pytest.raises(errors.ServerError) as server_info:
        client.models.generate_content(model="gemini-2.5-flash", contents=[scene.image, "x"])
    assert server_info.value.code == 503 and server_info.value.status == "UNAVAILABLE"
    control.set_faults(rate_503=0.0, rate_500=1.0)
    with pytest.raises(errors.ServerError) as internal:
        list(client.models.generate_content_stream(model="gemini-2.5-flash", contents=["x"]))
    assert internal.value.code == 500 and internal.value.status == "INTERNAL"


def test_fail_next_fails_exactly_that_many_calls(
    client: genai.Client, scene: Scene, control: EmulatorControl
) -> None:
    control.set_faults(fail_next_n=2, fail_next_code=503)
    for _ in range(2):
        with pytest.raises(errors.ServerError):
            client.models.generate_content(model="gemini-2.5-flash", contents=[scene.image])
    assert client.models.generate_content(model="gemini-2.5-flash", contents=[scene.image]).text
    assert control.get_faults()["fail_next_n"] == 0


def test_request_over_the_inline_limit_is_rejected(emu_small_limit: genai.Client) -> None:
    big = bytes(800_000)  # ~1.07 MB once base64-encoded
    with pytest.raises(errors.ClientError) as info:
        emu_small_limit.models.generate_content(
            model="gemini-2.5-flash",
            contents=[types.Part.from_bytes(data=big, mime_type="image/png")],
        )
    assert info.value.code == 400 and info.value.status == "INVALID_ARGUMENT"
    assert "exceeds the limit" in (info.value.message or "")


@pytest.fixture
def emu_small_limit() -> Iterator[genai.Client]:
    with EmulatorServer(inline_limit_bytes=1_000_000) as server:
        yield genai.Client(api_key="k", http_options={"base_url": server.base_url})


def test_more_than_3600_images_is_rejected(emu: EmulatorServer) -> None:
    # Raw HTTP: the SDK needs seconds just to serialise 3,601 parts.
    tiny = base64.b64encode(make_scene(2, 2, []).encode()).decode()
    part = {"inlineData": {"mimeType": "image/png", "data": tiny}}
    url = f"{emu.base_url}/v1beta/models/gemini-2.5-flash:countTokens?key=k"
    too_many = httpx.post(url, json={"contents": [{"parts": [part] * 3601}]}, timeout=30)
    assert too_many.status_code == 400
    assert "3601" in too_many.json()["error"]["message"]
    ok = httpx.post(url, json={"contents": [{"parts": [part] * 3600}]}, timeout=30)
    assert ok.status_code == 200 and ok.json()["totalTokens"] == 3600 * 258


def test_undecodable_image_and_unsupported_mime_are_400(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(
            model="gemini-2.5-flash", contents=[png_part(b"not an image at all")]
        )
    assert info.value.code == 400 and "image" in (info.value.message or "").lower()
    with pytest.raises(errors.ClientError) as mime:
        client.models.generate_content(
            model="gemini-2.5-flash",
            contents=[types.Part.from_bytes(data=b"x", mime_type="application/zip")],
        )
    assert "application/zip" in (mime.value.message or "")
