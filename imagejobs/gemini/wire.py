"""generateContent as JSON: the request body google-genai would build, and the reply read back.

google-genai turns a call into this body by validating the pydantic models it is given and
walking them field by field; for a job's request that was the largest share of a worker's CPU
per job (issue 12). The body is built here directly, as plain dicts, in the exact shape the SDK
sends (``tests/unit/test_gemini_wire.py`` compares the two for every task and option), and it
is sent by the SDK's own API client (auth, base URL, timeouts, errors stay the SDK's). The
answer is read from the response JSON (:func:`reply_from_body`: also the typed interface's
reader, given the SDK's response as JSON).

:func:`request_json` is that body as the bytes sent: an image's base64 is written straight into
the JSON (the base64 alphabet needs no escaping), so the JSON encoder never scans the largest
strings of a request. It is the standard alphabet, as the Gemini docs' own REST examples send;
the SDK sends the URL-safe one, and the API reads both (proto3 JSON bytes).

Pure: no network, no SDK import (the schema rewrite is passed in).
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any

from imagejobs.core.media_resolution import normalise_media_resolution
from imagejobs.core.tokens import uses_media_resolution
from imagejobs.gemini.port import GenerateReply, GenerateRequest, InlineImage, TokenUsage

__all__ = ["generate_path", "reply_from_body", "request_body", "request_json"]


def generate_path(model: str) -> str:
    """The REST path of a model's generateContent, relative to the API version."""
    name = model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"
    return f"{name}:generateContent"


Schema = Callable[[dict[str, Any]], dict[str, Any]]


def request_json(request: GenerateRequest, schema: Schema = dict) -> bytes:
    """:func:`request_body` serialised, each inline image's base64 (standard alphabet, padded)
    spliced into the JSON in place of a per-call random mark that no other value can equal."""
    inline = [image.data for image in request.images if isinstance(image, InlineImage)]
    nonce = secrets.token_hex(16)
    marks = [f"{nonce}-{index}" for index in range(len(inline))]
    text = json.dumps(request_body(request, schema, inline_data=iter(marks)), separators=(",", ":"))
    pieces: list[bytes] = []
    rest = text.encode()
    for mark, data in zip(marks, inline, strict=True):
        head, found, rest = rest.partition(f'"{mark}"'.encode())
        if not found:  # pragma: no cover - a mark is written once for each inline image
            raise AssertionError("an inline image's place was not found in the request JSON")
        pieces += [head, b'"', base64.b64encode(data), b'"']
    pieces.append(rest)
    return b"".join(pieces)


def request_body(
    request: GenerateRequest,
    schema: Schema = dict,
    *,
    inline_data: Iterator[str] | None = None,
) -> dict[str, Any]:
    """The JSON body of ``request``: images first, then the prompt; the generation config.
    ``schema`` gives the response schema as sent (the SDK rewrites schemas; the adapter asks
    it once per schema). ``inline_data``: the strings to write as the inline images' data, in
    order (:func:`request_json`'s marks); by default their base64."""
    resolution = None
    if request.media_resolution and uses_media_resolution(request.model):
        level = "MEDIA_RESOLUTION_" + normalise_media_resolution(request.media_resolution)
        resolution = {"level": level}
    parts: list[dict[str, Any]] = []
    for image in request.images:
        part: dict[str, Any] = {}
        if resolution is not None:
            part["mediaResolution"] = resolution
        if isinstance(image, InlineImage):
            if inline_data is None:
                data = base64.b64encode(image.data).decode("ascii")
            else:
                data = next(inline_data)
            part["inlineData"] = {"data": data, "mime_type": image.mime}
        else:
            part["fileData"] = {"file_uri": image.uri, "mime_type": image.mime}
        parts.append(part)
    parts.append({"text": request.text})
    body: dict[str, Any] = {"contents": [{"parts": parts, "role": "user"}]}
    if request.system_instruction is not None:
        body["systemInstruction"] = {
            "parts": [{"text": request.system_instruction}],
            "role": "user",
        }
    body["generationConfig"] = _generation_config(request, schema)
    return body


def _generation_config(request: GenerateRequest, schema: Schema) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.max_output_tokens is not None:
        config["maxOutputTokens"] = request.max_output_tokens
    if request.response_mime_type is not None:
        config["responseMimeType"] = request.response_mime_type
    if request.response_schema is not None:
        config["responseSchema"] = schema(request.response_schema)
    if request.thinking_level is not None:
        config["thinkingConfig"] = {"thinking_level": request.thinking_level}
    elif request.thinking_budget is not None:
        config["thinkingConfig"] = {"thinking_budget": request.thinking_budget}
    return config


def reply_from_body(body: dict[str, Any]) -> GenerateReply:
    """The answer in a generateContent response: the first candidate's text without its thought
    parts, why it ended, the usage, the model version and a refused prompt's reason."""
    candidates = body.get("candidates") or []
    candidate = candidates[0] if candidates else None
    text = None
    finish_reason = None
    if candidate is not None:
        parts = (candidate.get("content") or {}).get("parts") or []
        text = "".join(p["text"] for p in parts if p.get("text") and not p.get("thought")) or None
        finish_reason = candidate.get("finishReason")
    feedback = body.get("promptFeedback")
    return GenerateReply(
        text=text,
        finish_reason=finish_reason,
        usage=_usage(body.get("usageMetadata")),
        model_version=body.get("modelVersion"),
        block_reason=feedback.get("blockReason") if feedback else None,
    )


def _usage(meta: dict[str, Any] | None) -> TokenUsage:
    if meta is None:
        return TokenUsage()
    by_modality: dict[str, int] = {}
    for detail in meta.get("promptTokensDetails") or []:
        name = detail.get("modality") or "UNSPECIFIED"
        by_modality[name] = by_modality.get(name, 0) + (detail.get("tokenCount") or 0)
    return TokenUsage(
        prompt=meta.get("promptTokenCount"),
        candidates=meta.get("candidatesTokenCount"),
        thoughts=meta.get("thoughtsTokenCount"),
        total=meta.get("totalTokenCount"),
        image=by_modality.get("IMAGE"),
        text=by_modality.get("TEXT"),
    )
