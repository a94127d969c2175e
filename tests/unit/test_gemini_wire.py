"""The generateContent request built as JSON bytes is the one google-genai builds from its types
(URL, headers, body; inline data the same bytes, in the standard base64 alphabet where the SDK
uses the URL-safe one), for every task and option; and a response reads the same both ways (the
SDK's own conversion is the reference: its sending is replaced by a recorder here, no network)."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pytest
from google.genai._api_client import HttpRequest, HttpResponse

from imagejobs.core.jobspec import TASKS
from imagejobs.core.prompts import build_prompt
from imagejobs.emulator.wire import decode_base64
from imagejobs.gemini.client import GenaiGemini
from imagejobs.gemini.port import FileImage, GenerateReply, GenerateRequest, InlineImage
from imagejobs.gemini.wire import generate_path, reply_from_body, request_body, request_json

ANSWER: dict[str, Any] = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {"text": "looking at the image", "thought": True},
                    {"text": '[{"box_2d": [1, 2, 3, 4], '},
                    {"text": '"label": "cat"}]'},
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 1290,
        "candidatesTokenCount": 20,
        "thoughtsTokenCount": 7,
        "totalTokenCount": 1317,
        "promptTokensDetails": [
            {"modality": "TEXT", "tokenCount": 32},
            {"modality": "IMAGE", "tokenCount": 1032},
            {"modality": "IMAGE", "tokenCount": 226},
        ],
    },
    "modelVersion": "gemini-2.5-flash-lite-001",
    "responseId": "abc",
}


class Recorder:
    """Stands in for the SDK's sending (``_request``): keeps each request's method, URL,
    headers and body as JSON (inline data decoded), answers ``answer``."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str, dict[str, str], dict[str, Any]]] = []

    def send(self, request: HttpRequest, http_options: Any = None, stream: bool = False):  # type: ignore[no-untyped-def]
        data = request.data
        body = json.loads(data) if isinstance(data, bytes) else json.loads(json.dumps(data))
        self.calls.append((request.method, request.url, request.headers, decoded(body)))
        return HttpResponse(headers={}, response_stream=[json.dumps(self.answer)])


def decoded(body: Any) -> Any:
    """``body`` with each inline image's base64 (either alphabet) replaced by its bytes."""
    if isinstance(body, list):
        return [decoded(item) for item in body]
    if not isinstance(body, dict):
        return body
    out = {key: decoded(value) for key, value in body.items()}
    if isinstance(body.get("inlineData"), dict):  # as the receiving side reads it
        out["inlineData"]["data"] = decode_base64(body["inlineData"]["data"], "inlineData.data")
    return out


_CLIENTS = {
    typed: GenaiGemini(api_key="k", base_url="http://127.0.0.1:9", typed=typed)
    for typed in (True, False)
}


def both_ways(request: GenerateRequest, answer: dict[str, Any]) -> list[Any]:
    """(method, URL, headers, body, reply) of ``request`` through the SDK's types and through
    our JSON."""
    seen = []
    for gemini in _CLIENTS.values():  # typed first
        recorder = Recorder(answer)
        gemini._client._api_client._request = recorder.send  # type: ignore[method-assign]
        reply = gemini.generate(request)
        ((method, url, headers, body),) = recorder.calls
        seen.append((method, url, headers, body, reply))
    return seen


def requests() -> list[GenerateRequest]:
    images = [
        [InlineImage(b"\x89PNG\r\n\x1a\n...", "image/png")],
        [
            InlineImage(b"\xff\xd8\xff...", "image/jpeg"),
            FileImage("https://g/files/a", "image/webp"),
        ],
    ]
    options: list[dict[str, Any]] = [
        {},
        {"thinking_budget": 0, "temperature": 0.5},
        {"thinking_level": "LOW", "max_output_tokens": 512, "media_resolution": "high"},
        {"thinking_budget": 1024, "media_resolution": "ultra_high"},
    ]
    models = ["gemini-2.5-flash-lite", "gemini-3.8-flash", "models/gemini-3.1-pro-preview"]
    out = []
    for task, parts, extra, model in itertools.product(TASKS, images, options, models):
        if task == "compare" and len(parts) < 2:
            continue
        spec = build_prompt(
            task, question="What?", labels=["cat", "dog"], target="cats", n_images=len(parts)
        )
        out.append(
            GenerateRequest(
                model=model,
                images=parts,
                text=spec.text,
                system_instruction=spec.system_instruction,
                response_mime_type=spec.response_mime_type,
                response_schema=spec.response_schema,
                **extra,
            )
        )
    return out


@pytest.mark.parametrize("request_", requests(), ids=lambda r: r.model)
def test_the_json_body_is_the_sdks_body(request_: GenerateRequest) -> None:
    schema = json.dumps(request_.response_schema)
    (typed, ours) = both_ways(request_, ANSWER)
    assert json.dumps(request_.response_schema) == schema  # the prompt's schema is left as it was
    assert ours[:4] == typed[:4]
    assert ours[1].endswith("/v1beta/" + generate_path(request_.model))
    assert ours[4] == typed[4]


def test_inline_data_is_written_into_the_json_as_standard_base64() -> None:
    data = bytes(range(256)) * 3  # every byte value: both base64 alphabets' extra characters
    request = GenerateRequest(
        model="gemini-3.8-flash",
        images=[InlineImage(data, "image/png"), InlineImage(data[::-1], "image/jpeg")],
        # A prompt that looks like data or like JSON is text like any other.
        text='"inlineData": {"data": "x"}, "AAEC" \u0000',
    )
    sent = json.loads(request_json(request))
    parts = sent["contents"][0]["parts"]
    assert [part["inlineData"]["data"] for part in parts[:2]] == [
        base64.b64encode(data).decode(),
        base64.b64encode(data[::-1]).decode(),
    ]
    assert sent == request_body(request)
    assert parts[2] == {"text": request.text}


@pytest.mark.parametrize(
    "answer",
    [
        ANSWER,
        {},  # nothing at all
        {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 9}},
        {"candidates": [{"finishReason": "MAX_TOKENS", "content": {"role": "model"}}]},
        {"candidates": [{"finishReason": "RECITATION"}], "modelVersion": "m"},
        {"candidates": [{"content": {"parts": [{"text": "only a thought", "thought": True}]}}]},
        {"candidates": [{"content": {"parts": [{"text": "a"}, {"inlineData": {"data": ""}}]}}]},
        {"usageMetadata": {"promptTokensDetails": [{"modality": "AUDIO"}, {"tokenCount": 3}]}},
    ],
)
def test_a_response_reads_the_same_as_through_the_sdk(answer: dict[str, Any]) -> None:
    spec = build_prompt("caption")
    request = GenerateRequest(model="gemini-2.5-flash-lite", images=[], text=spec.text)
    (typed, ours) = both_ways(request, answer)
    assert ours[4] == typed[4] == reply_from_body(answer)


def test_the_reply_of_a_detect_answer() -> None:
    assert reply_from_body(ANSWER) == GenerateReply(
        text='[{"box_2d": [1, 2, 3, 4], "label": "cat"}]',
        finish_reason="STOP",
        usage=reply_from_body(ANSWER).usage,
        model_version="gemini-2.5-flash-lite-001",
    )
    usage = reply_from_body(ANSWER).usage
    assert (usage.prompt, usage.candidates, usage.thoughts, usage.total) == (1290, 20, 7, 1317)
    assert (usage.image, usage.text) == (1258, 32)
