"""Reading generateContent / countTokens request bodies, refusing what the real API refuses.

Validation runs on the body as sent (camelCase or snake_case keys): unknown fields, a role other
than ``user``/``model``, empty ``parts``, a part without data (``{}`` or an empty text) and bad
enum values answer 400 ``INVALID_ARGUMENT`` with the real API's wording and the field's path.
Reading then works on the camelCase-normalised body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from imagejobs.core.media_resolution import normalise_media_resolution
from imagejobs.core.thinking_level import normalise_level
from imagejobs.emulator.wire import RpcError, bad_request, camel, decode_base64, normalise_keys

IMAGE_MIME_TYPES = {"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"}
ROLES = ("user", "model")
ENUM_PREFIX = "type.googleapis.com/google.ai.generativelanguage.v1beta."

# Known fields (camelCase) of the messages the emulator reads; google-genai 3.6's converters.
REQUEST_FIELDS = {
    "contents", "tools", "toolConfig", "safetySettings", "systemInstruction", "generationConfig",
    "cachedContent", "model", "labels", "serviceTier", "store", "continuationToken",
}  # fmt: skip
COUNT_FIELDS = {"contents", "generateContentRequest"}
CONTENT_FIELDS = {"role", "parts"}
PART_DATA = {
    "text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
    "codeExecutionResult", "toolCall", "toolResponse",
}  # fmt: skip
PART_FIELDS = PART_DATA | {
    "thought", "thoughtSignature", "videoMetadata", "mediaResolution", "partMetadata",
    "audioMetadata", "speechMetadata", "documentMetadata", "spreadsheetMetadata",
    "mediaProcessing", "audioTranscription",
}  # fmt: skip
BLOB_FIELDS = {"mimeType", "data", "displayName"}
FILE_DATA_FIELDS = {"mimeType", "fileUri", "displayName"}
GENERATION_FIELDS = {
    "stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema",
    "responseModalities", "candidateCount", "maxOutputTokens", "temperature", "topP", "topK",
    "seed", "presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs",
    "enableEnhancedCivicAnswers", "speechConfig", "thinkingConfig", "imageConfig",
    "mediaResolution", "audioTimestamp", "routingConfig", "modelSelectionConfig",
    "audioTranscriptionConfig",
}  # fmt: skip
THINKING_FIELDS = {"thinkingBudget", "thinkingLevel", "includeThoughts"}

# Resolves a fileData uri/name to (bytes, mime type) or raises RpcError.
FileLookup = Callable[[str], tuple[bytes, str]]


@dataclass(frozen=True)
class ImagePart:
    data: bytes
    mime_type: str
    media_resolution: str | None
    inline: bool


@dataclass
class GenerateRequest:
    model: str
    texts: list[str] = field(default_factory=list)
    system_text: str = ""
    images: list[ImagePart] = field(default_factory=list)
    response_mime_type: str | None = None
    response_schema: dict[str, Any] | None = None
    thinking_budget: int | None = None
    thinking_level: str | None = None  # normalised: MINIMAL, LOW, MEDIUM, HIGH, XHIGH
    media_resolution: str | None = None  # the global level (generationConfig.mediaResolution)
    max_output_tokens: int | None = None

    @property
    def prompt(self) -> str:
        """User text and system instruction together: what the task heuristics read."""
        return "\n".join([*self.texts, self.system_text]).strip()

    @property
    def json_mode(self) -> bool:
        return (self.response_mime_type or "").lower() == "application/json"

    @property
    def inline_bytes(self) -> int:
        return sum(len(image.data) for image in self.images if image.inline)


def parse_generate(
    body: Any,
    model: str,
    lookup: FileLookup,
    kind: str = "GenerateContentRequest",
    allowed: set[str] = REQUEST_FIELDS,
) -> GenerateRequest:
    """Read a generateContent body; bad input raises RpcError 400 naming the field."""
    if not isinstance(body, dict):
        raise RpcError(400, "Invalid JSON payload received. Expected a JSON object.")
    check_request(body, allowed)
    body = normalise_keys(body)
    request = GenerateRequest(model=model)
    contents = body.get("contents")
    if not contents:
        raise RpcError(400, f"* {kind}.contents: contents is not specified\n")
    if isinstance(contents, dict):
        contents = [contents]
    if not isinstance(contents, list):
        raise RpcError(400, "Invalid value at 'contents': expected a list of Content")
    for c_index, content in enumerate(contents):
        parts = content.get("parts") if isinstance(content, dict) else None
        if parts is None or parts == []:
            raise RpcError(
                400, f"* {kind}.contents[{c_index}].parts: contents.parts must not be empty.\n"
            )
        if not isinstance(parts, list):
            raise RpcError(400, f"Invalid value at 'contents[{c_index}].parts': expected a list")
        role = content.get("role")
        if role not in (None, "", *ROLES):
            raise RpcError(400, "Please use a valid role: user, model.")
        for p_index, part in enumerate(parts):
            where = f"contents[{c_index}].parts[{p_index}]"
            if isinstance(part, dict) and not _has_data(part):
                raise RpcError(
                    400,
                    f"* {kind}.{where}.data: required oneof field 'data' must have one "
                    "initialized field\n",
                )
            _read_part(part, where, request, lookup)
    system = body.get("systemInstruction")
    if isinstance(system, str):
        request.system_text = system
    elif isinstance(system, dict):
        texts = [p.get("text", "") for p in system.get("parts", []) if isinstance(p, dict)]
        request.system_text = "\n".join(t for t in texts if isinstance(t, str))
    _read_generation_config(body.get("generationConfig") or {}, request)
    return request


def parse_count(body: Any, model: str, lookup: FileLookup) -> GenerateRequest:
    """countTokens takes ``contents`` or a whole ``generateContentRequest``."""
    if isinstance(body, dict):
        inner = _get(body, "generateContentRequest")
        if isinstance(inner, dict):
            problems: list[tuple[str, str]] = []
            _collect(body, COUNT_FIELDS, "", problems)
            if problems:
                raise bad_request(problems[0][0], problems[0][1])
            return parse_generate(inner, model, lookup, "CountTokensRequest")
    return parse_generate(body, model, lookup, "CountTokensRequest", COUNT_FIELDS)


def _has_data(part: dict[str, Any]) -> bool:
    for key, value in part.items():
        if camel(key) in PART_DATA and value not in (None, "", {}):
            return True
    return False


# Unknown fields ---------------------------------------------------------------------------------


def check_request(body: dict[str, Any], allowed: set[str]) -> None:
    """400 naming every unknown field, as proto JSON parsing does (paths in snake_case)."""
    problems: list[tuple[str, str]] = []
    _collect(body, allowed, "", problems)
    contents = _get(body, "contents")
    for c_index, content in enumerate(contents if isinstance(contents, list) else [contents]):
        if not isinstance(content, dict):
            continue
        c_where = f"contents[{c_index}]"
        _collect(content, CONTENT_FIELDS, c_where, problems)
        parts = _get(content, "parts")
        for p_index, part in enumerate(parts if isinstance(parts, list) else []):
            if not isinstance(part, dict):
                continue
            p_where = f"{c_where}.parts[{p_index}]"
            _collect(part, PART_FIELDS, p_where, problems)
            for key, fields, name in (
                ("inlineData", BLOB_FIELDS, "inline_data"),
                ("fileData", FILE_DATA_FIELDS, "file_data"),
            ):
                blob = _get(part, key)
                if isinstance(blob, dict):
                    _collect(blob, fields, f"{p_where}.{name}", problems)
    config = _get(body, "generationConfig")
    if isinstance(config, dict):
        _collect(config, GENERATION_FIELDS, "generation_config", problems)
        thinking = _get(config, "thinkingConfig")
        if isinstance(thinking, dict):
            _collect(thinking, THINKING_FIELDS, "generation_config.thinking_config", problems)
    if problems:
        messages = [message for message, _ in problems]
        error = bad_request("\n".join(messages), problems[0][1])
        error.details[0]["fieldViolations"] = [
            {"field": field, "description": message} for message, field in problems
        ]
        raise error


def _collect(
    obj: dict[str, Any], allowed: set[str], where: str, problems: list[tuple[str, str]]
) -> None:
    for key in obj:
        if camel(str(key)) not in allowed:
            at = f" at '{where}'" if where else ""
            message = f'Invalid JSON payload received. Unknown name "{key}"{at}: Cannot find field.'
            problems.append((message, where))


def _get(obj: dict[str, Any], camel_key: str) -> Any:
    for key, value in obj.items():
        if camel(str(key)) == camel_key:
            return value
    return None


def _read_part(part: Any, where: str, request: GenerateRequest, lookup: FileLookup) -> None:
    if not isinstance(part, dict):
        raise RpcError(400, f"Invalid value at '{where}': expected a Part object")
    resolution = part.get("mediaResolution")
    raw_level = resolution.get("level") if isinstance(resolution, dict) else resolution
    level = _resolution(raw_level, f"{where}.media_resolution.level", "PartMediaResolutionLevel")
    if isinstance(part.get("text"), str):
        if not part.get("thought"):
            request.texts.append(part["text"])
    elif isinstance(part.get("inlineData"), dict):
        blob = part["inlineData"]
        mime = str(blob.get("mimeType") or "").lower()
        data = blob.get("data")
        if not isinstance(data, str) or not data:
            raise RpcError(400, f"Invalid value at '{where}.inline_data.data': missing data")
        raw = decode_base64(data, f"{where}.inline_data.data")
        if mime == "text/plain":
            request.texts.append(raw.decode("utf-8", errors="replace"))
            return
        _check_mime(mime, where + ".inline_data.mime_type")
        request.images.append(ImagePart(raw, mime, level, inline=True))
    elif isinstance(part.get("fileData"), dict):
        ref = part["fileData"]
        uri = ref.get("fileUri")
        if not isinstance(uri, str) or not uri:
            raise RpcError(400, f"Invalid value at '{where}.file_data.file_uri': missing uri")
        data, stored_mime = lookup(uri)
        mime = str(ref.get("mimeType") or stored_mime).lower()
        _check_mime(mime, where + ".file_data.mime_type")
        request.images.append(ImagePart(data, mime, level, inline=False))


def _check_mime(mime: str, where: str) -> None:
    if mime not in IMAGE_MIME_TYPES:
        allowed = ", ".join(sorted(IMAGE_MIME_TYPES))
        raise RpcError(
            400, f"Unsupported MIME type {mime!r} at '{where}'; emulator accepts {allowed}"
        )


def _read_generation_config(config: Any, request: GenerateRequest) -> None:
    if not isinstance(config, dict):
        raise RpcError(400, "Invalid value at 'generation_config': expected an object")
    request.response_mime_type = config.get("responseMimeType")
    schema = config.get("responseSchema") or config.get("responseJsonSchema")
    if schema is not None and not isinstance(schema, dict):
        raise RpcError(400, "Invalid value at 'generation_config.response_schema'")
    request.response_schema = schema
    if schema is not None and request.response_mime_type is None:
        raise RpcError(
            400, "responseSchema requires responseMimeType application/json or text/x.enum"
        )
    thinking = config.get("thinkingConfig") or {}
    if not isinstance(thinking, dict):
        raise RpcError(400, "Invalid value at 'generation_config.thinking_config'")
    budget = thinking.get("thinkingBudget")
    if budget is not None:
        bad = RpcError(
            400,
            "Invalid value at 'generation_config.thinking_config.thinking_budget' "
            f"(TYPE_INT32), {json.dumps(budget)}",
        )
        if isinstance(budget, bool) or not isinstance(budget, int | str):
            raise bad
        try:
            request.thinking_budget = int(budget)
        except ValueError:
            raise bad from None
    level = thinking.get("thinkingLevel")
    if level is not None and str(level).upper() not in ("", "THINKING_LEVEL_UNSPECIFIED"):
        try:
            request.thinking_level = normalise_level(str(level))
        except ValueError:
            raise RpcError(
                400,
                "Invalid value at 'generation_config.thinking_config.thinking_level' "
                f'({ENUM_PREFIX}ThinkingConfig.ThinkingLevel), "{level}"',
            ) from None
    request.media_resolution = _resolution(
        config.get("mediaResolution"), "generation_config.media_resolution", "MediaResolution"
    )
    max_tokens = config.get("maxOutputTokens")
    if max_tokens is not None:
        if not isinstance(max_tokens, int) or max_tokens <= 0:
            raise RpcError(400, "Invalid value at 'generation_config.max_output_tokens'")
        request.max_output_tokens = max_tokens


def _resolution(value: Any, where: str, enum: str) -> str | None:
    """A media resolution enum value normalised to LOW..ULTRA_HIGH, None when unset."""
    if value is None or value == "" or str(value).upper() == "MEDIA_RESOLUTION_UNSPECIFIED":
        return None
    try:
        return normalise_media_resolution(str(value))
    except ValueError:
        raise RpcError(
            400, f"Invalid value at '{where}' ({ENUM_PREFIX}{enum}), \"{value}\""
        ) from None
