"""Reading generateContent / countTokens request bodies (after camelCase normalisation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from imagejobs.emulator.wire import RpcError, decode_base64, normalise_keys

IMAGE_MIME_TYPES = {"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"}

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
    media_resolution: str | None = None
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


def parse_generate(body: Any, model: str, lookup: FileLookup) -> GenerateRequest:
    """Read a generateContent body; bad input raises RpcError 400 naming the field."""
    if not isinstance(body, dict):
        raise RpcError(400, "Invalid JSON payload received. Expected a JSON object.")
    body = normalise_keys(body)
    request = GenerateRequest(model=model)
    contents = body.get("contents")
    if not contents:
        raise RpcError(400, "* GenerateContentRequest.contents: contents is not specified")
    if isinstance(contents, dict):
        contents = [contents]
    if not isinstance(contents, list):
        raise RpcError(400, "Invalid value at 'contents': expected a list of Content")
    for c_index, content in enumerate(contents):
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list):
            raise RpcError(400, f"Invalid value at 'contents[{c_index}].parts': expected a list")
        for p_index, part in enumerate(parts):
            _read_part(part, f"contents[{c_index}].parts[{p_index}]", request, lookup)
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
        inner = body.get("generateContentRequest") or body.get("generate_content_request")
        if isinstance(inner, dict):
            return parse_generate(inner, model, lookup)
    return parse_generate(body, model, lookup)


def _read_part(part: Any, where: str, request: GenerateRequest, lookup: FileLookup) -> None:
    if not isinstance(part, dict):
        raise RpcError(400, f"Invalid value at '{where}': expected a Part object")
    resolution = part.get("mediaResolution")
    level = resolution.get("level") if isinstance(resolution, dict) else resolution
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
    budget = thinking.get("thinkingBudget") if isinstance(thinking, dict) else None
    request.thinking_budget = int(budget) if budget is not None else None
    resolution = config.get("mediaResolution")
    request.media_resolution = resolution if isinstance(resolution, str) else None
    max_tokens = config.get("maxOutputTokens")
    if max_tokens is not None:
        if not isinstance(max_tokens, int) or max_tokens <= 0:
            raise RpcError(400, "Invalid value at 'generation_config.max_output_tokens'")
        request.max_output_tokens = max_tokens
