# mypy: disable-error-code="arg-type"
"""Each way the emulator used to differ from the real API, checked with the real SDK or raw HTTP.

Expected answers are the real API's, as recorded in imagejobs/core/model_facts.py's sources and
/work/shared/docs/gemini-wire.md.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from google import genai
from google.genai import errors, types

from imagejobs.core.geometry import box_2d_to_pixels
from imagejobs.core.masks import DecodedMask, decode_mask
from imagejobs.core.models import served_models
from imagejobs.core.parsing import parse_items, parse_model_output
from imagejobs.emulator import EmulatorControl, EmulatorServer
from imagejobs.emulator.scenes import Scene

SEGMENT = (
    "Give the segmentation masks for the shapes. Output a JSON list of segmentation masks where "
    'each entry contains the 2D bounding box in the key "box_2d", the segmentation mask in key '
    '"mask", and the text label in the key "label".'
)


@pytest.fixture
def http(emu: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, timeout=10, headers={"x-goog-api-key": "k"}) as c:
        yield c


def png_part(data: bytes) -> dict[str, object]:
    return {"inline_data": {"mime_type": "image/png", "data": base64.b64encode(data).decode()}}


def error_of(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    return body["error"]


# Lenient JSON ---------------------------------------------------------------------------------


def test_trailing_commas_and_single_quotes_are_accepted(http: httpx.Client) -> None:
    body = "{'contents': [{'parts': [{'text': 'it\\'s a \"test\"'},],},],}"
    response = http.post("/v1beta/models/gemini-2.5-flash:generateContent", content=body)
    assert response.status_code == 200, response.text
    start = http.post(
        "/upload/v1beta/files",
        headers={
            "X-Goog-Upload-Protocol": "resumable",
            "X-Goog-Upload-Command": "start",
            "X-Goog-Upload-Header-Content-Length": "3",
            "X-Goog-Upload-Header-Content-Type": "image/png",
            "Content-Type": "application/json",
        },
        content="{'file': {'display_name': 'IMAGE'}}",  # the docs' REST sample, verbatim
    )
    assert start.status_code == 200, start.text
    assert start.headers["x-goog-upload-url"]


def test_broken_json_is_still_refused(http: httpx.Client) -> None:
    response = http.post("/v1beta/models/gemini-2.5-flash:generateContent", content="{'a': ")
    assert response.status_code == 400
    assert str(error_of(response)["message"]).startswith("Invalid JSON payload received.")


# Models ---------------------------------------------------------------------------------------


def test_unknown_model_is_404_with_the_real_message(client: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-9-ultra", contents=["hi"])
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"
    assert info.value.message == (
        "models/gemini-9-ultra is not found for API version v1, or is not supported for "
        "generateContent. Call ListModels to see the list of available models and their "
        "supported methods."
    )


def test_versioned_variant_of_a_known_model_is_served(client: genai.Client) -> None:
    response = client.models.generate_content(
        model="gemini-2.5-flash-preview-09-2025", contents=["hi"]
    )
    assert response.model_version == "gemini-2.5-flash-preview-09-2025"


def test_models_list_and_get_through_the_sdk(client_beta: genai.Client) -> None:
    listed = list(client_beta.models.list(config={"page_size": 5}))
    assert [m.name for m in listed] == ["models/" + n for n in served_models()]  # paged by 5
    flash = client_beta.models.get(model="gemini-2.5-flash")
    assert flash.display_name == "Gemini 2.5 Flash"
    assert flash.input_token_limit == 1_048_576 and flash.output_token_limit == 65_536
    assert flash.supported_actions and "generateContent" in flash.supported_actions
    assert flash.thinking is True
    with pytest.raises(errors.ClientError) as info:
        client_beta.models.get(model="nope-1")
    assert info.value.code == 404


def test_models_list_pages_over_raw_http(http: httpx.Client) -> None:
    first = http.get("/v1beta/models", params={"pageSize": 3}).json()
    assert len(first["models"]) == 3 and first["nextPageToken"]
    second = http.get("/v1beta/models", params={"pageSize": 3, "pageToken": first["nextPageToken"]})
    assert second.json()["models"][0]["name"] == "models/" + served_models()[3]
    assert set(first["models"][0]) >= {
        "name",
        "displayName",
        "inputTokenLimit",
        "outputTokenLimit",
        "supportedGenerationMethods",
        "thinking",
    }


# Requests the real API refuses ----------------------------------------------------------------


EMPTY_PARTS = "* GenerateContentRequest.contents[0].parts: contents.parts must not be empty.\n"
NO_DATA = (
    "* GenerateContentRequest.contents[0].parts[0].data: required oneof field 'data' must have "
    "one initialized field\n"
)
ROLE = "Please use a valid role: user, model."
UNKNOWN = "Invalid JSON payload received. Unknown name {}: Cannot find field."
TEXT = [{"text": "x"}]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"contents": [{"parts": []}]}, EMPTY_PARTS),
        ({"contents": [{"parts": [{"text": ""}]}]}, NO_DATA),
        ({"contents": [{"parts": [{}]}]}, NO_DATA),
        ({"contents": [{"role": "system", "parts": TEXT}]}, ROLE),
        ({"contents": [{"parts": TEXT, "foo": 1}]}, UNKNOWN.format("\"foo\" at 'contents[0]'")),
        ({"contents": [{"parts": TEXT}], "foo": 1}, UNKNOWN.format('"foo"')),
        (
            {"contents": [{"parts": TEXT}], "generation_config": {"temprature": 1}},
            UNKNOWN.format("\"temprature\" at 'generation_config'"),
        ),
    ],
)
def test_refused_requests_answer_400_naming_the_field(
    http: httpx.Client, body: dict[str, object], message: str
) -> None:
    response = http.post("/v1beta/models/gemini-2.5-flash:generateContent", json=body)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["status"] == "INVALID_ARGUMENT" and error["message"] == message


def test_unknown_field_carries_a_bad_request_violation(http: httpx.Client) -> None:
    body = {"contents": [{"parts": [{"text": "x", "bogus": 1}]}]}
    error = error_of(http.post("/v1beta/models/gemini-2.5-flash:countTokens", json=body))
    assert error["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [
                {
                    "field": "contents[0].parts[0]",
                    "description": 'Invalid JSON payload received. Unknown name "bogus" at '
                    "'contents[0].parts[0]': Cannot find field.",
                }
            ],
        }
    ]


# Streaming without alt=sse --------------------------------------------------------------------


def test_stream_without_alt_sse_is_one_json_array(http: httpx.Client) -> None:
    body = {"contents": [{"parts": [{"text": "Describe the weather"}]}]}
    plain = http.post("/v1beta/models/gemini-2.5-flash:streamGenerateContent", json=body)
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("application/json")
    chunks = plain.json()
    assert isinstance(chunks, list) and len(chunks) >= 1
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    sse = http.post("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", json=body)
    assert sse.headers["content-type"].startswith("text/event-stream")
    assert sse.text.startswith("data: {")
    refused = http.post(
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        json={"contents": [{"role": "bot", "parts": [{"text": "x"}]}]},
    )
    assert refused.status_code == 400
    assert refused.json()[0]["error"]["message"] == "Please use a valid role: user, model."


# Error bodies ---------------------------------------------------------------------------------


def test_429_carries_quota_failure_help_and_retry_info(
    client: genai.Client, control: EmulatorControl
) -> None:
    control.set_faults(rate_429=1.0, retry_delay_s=9)
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-3.5-flash", contents=["x"])
    details = {d["@type"].rsplit(".", 1)[-1]: d for d in info.value.details["error"]["details"]}
    assert set(details) == {"QuotaFailure", "Help", "RetryInfo"}
    assert details["RetryInfo"]["retryDelay"] == "9s"
    violation = details["QuotaFailure"]["violations"][0]
    assert set(violation) == {"quotaMetric", "quotaId", "quotaDimensions", "quotaValue"}
    assert violation["quotaDimensions"]["model"] == "gemini-3.5-flash"
    assert details["Help"]["links"][0]["url"].startswith("https://ai.google.dev/")


@pytest.mark.parametrize("code", [500, 503])
def test_injected_server_errors_carry_no_retry_info(
    client: genai.Client, control: EmulatorControl, code: int
) -> None:
    control.set_faults(**{f"rate_{code}": 1.0})
    with pytest.raises(errors.ServerError) as info:
        client.models.generate_content(model="gemini-2.5-flash", contents=["x"])
    assert "details" not in info.value.details["error"]
    if code == 503:
        assert info.value.message == "The model is overloaded. Please try again later."
    control.set_faults(**{f"rate_{code}": 0.0}, fail_next_n=1, fail_next_code=code)
    with pytest.raises(errors.ServerError) as again:
        client.models.generate_content(model="gemini-2.5-flash", contents=["x"])
    assert "details" not in again.value.details["error"]


def test_undecodable_image_message_does_not_leak_python_objects(http: httpx.Client) -> None:
    body = {"contents": [{"parts": [png_part(b"\x89PNG not really"), {"text": "caption"}]}]}
    response = http.post("/v1beta/models/gemini-2.5-flash:generateContent", json=body)
    assert response.status_code == 400
    message = str(error_of(response)["message"])
    assert message.startswith("Unable to process input image.")
    assert "BytesIO" not in message and "0x" not in message


# Per-model behaviour --------------------------------------------------------------------------


def _masks(text: str, scene: Scene, axis: str = "yx") -> list[DecodedMask]:
    items = parse_items(parse_model_output(text, "STOP")).items
    out = []
    for item in items:
        box = box_2d_to_pixels(item.box_2d, scene.width, scene.height)
        decoded = decode_mask(item.mask, box, scene.width, scene.height, axis_default=axis)
        assert isinstance(decoded, DecodedMask), decoded
        out.append(decoded)
    return out


def test_gemini3_answers_segmentation_with_polygons_that_decode(
    client: genai.Client, scene: Scene
) -> None:
    response = client.models.generate_content(
        model="gemini-3.5-flash", contents=[scene.image, SEGMENT]
    )
    items = json.loads((response.text or "").removeprefix("```json").removesuffix("```"))
    assert all(isinstance(item["mask"], list) and len(item["mask"]) >= 3 for item in items)
    masks = _masks(response.text or "", scene)
    assert [m.shape for m in masks] == ["polygon"] * len(scene.objects)
    for decoded, truth in zip(masks, scene.objects, strict=True):
        assert decoded.axis_order == "yx"
        assert abs(decoded.area - int(np.count_nonzero(truth.mask))) / decoded.area < 0.1


def test_gemini25_answers_png_maps_and_a_share_seg_tokens(
    client: genai.Client, scene: Scene, control: EmulatorControl
) -> None:
    response = client.models.generate_content(
        model="gemini-2.5-flash", contents=[scene.image, SEGMENT]
    )
    assert "data:image/png;base64," in (response.text or "")
    assert [m.shape for m in _masks(response.text or "", scene)] == ["png"] * 3
    control.set_faults(seg_token_rate=1.0)
    tokens = client.models.generate_content(
        model="gemini-2.5-flash", contents=[scene.image, SEGMENT]
    )
    items = parse_items(parse_model_output(tokens.text, "STOP")).items
    assert all(str(i.mask).startswith("<start_of_mask><seg_") for i in items)
    assert len(items) == 3  # boxes are kept even when the masks cannot be read


def test_gemini20_answers_boxes_without_masks(client: genai.Client, scene: Scene) -> None:
    response = client.models.generate_content(
        model="gemini-2.0-flash", contents=[scene.image, SEGMENT]
    )
    items = parse_items(parse_model_output(response.text, "STOP")).items
    assert len(items) == 3 and all(i.mask is None for i in items)


BUDGET_ZERO = "Budget 0 is invalid. This model only works in thinking mode."
LEVEL_MINIMAL = (
    "Thinking level MINIMAL is not supported for this model. "
    "Please retry with other thinking level."
)


@pytest.mark.parametrize(
    ("model", "thinking", "message"),
    [
        (
            "gemini-2.5-flash",
            {"thinking_level": "LOW"},
            "Thinking level is not supported for this model.",
        ),
        ("gemini-3.8-flash", {"thinking_level": "MINIMAL"}, LEVEL_MINIMAL),
        ("gemini-3.1-pro-preview", {"thinking_budget": 0}, BUDGET_ZERO),
        ("gemini-2.5-pro", {"thinking_budget": 0}, BUDGET_ZERO),
        (
            "gemini-3.5-flash",
            {"thinking_level": "LOW", "thinking_budget": 100},
            "thinking_budget and thinking_level cannot be set at the same time.",
        ),
    ],
)
def test_refused_thinking_configs(
    client: genai.Client, model: str, thinking: dict[str, object], message: str
) -> None:
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(**thinking))
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=model, contents=["x"], config=config)
    assert info.value.code == 400 and info.value.message == message


@pytest.mark.parametrize(
    ("model", "level", "thoughts"),
    [
        ("gemini-3.5-flash", None, 32),  # the family default, MEDIUM
        ("gemini-3.5-flash", "MINIMAL", 8),
        ("gemini-3.5-flash", "HIGH", 64),
        ("gemini-3-pro-preview", "LOW", 16),
        ("gemini-3.1-flash-lite", None, 8),  # default MINIMAL
    ],
)
def test_thinking_tokens_by_level(
    client: genai.Client, model: str, level: str | None, thoughts: int
) -> None:
    config = types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(thinking_level=level) if level else None
    )
    response = client.models.generate_content(model=model, contents=["x"], config=config)
    assert response.usage_metadata and response.usage_metadata.thoughts_token_count == thoughts


def test_thinking_budget_still_accepted_on_gemini3_flash(client: genai.Client) -> None:
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=0))
    response = client.models.generate_content(
        model="gemini-3-flash-preview", contents=["x"], config=config
    )
    assert response.usage_metadata and response.usage_metadata.thoughts_token_count == 0


def test_unknown_thinking_level_word_is_an_enum_error(http: httpx.Client) -> None:
    body = {
        "contents": [{"parts": [{"text": "x"}]}],
        "generationConfig": {"thinkingConfig": {"thinkingLevel": "HUGE"}},
    }
    response = http.post("/v1beta/models/gemini-3.5-flash:generateContent", json=body)
    assert response.status_code == 400
    assert "thinking_level" in str(error_of(response)["message"])
