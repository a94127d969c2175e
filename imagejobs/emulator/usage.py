"""Token accounting: ``usageMetadata`` and ``countTokens`` from the shared rule in core.tokens.

Thinking tokens (deterministic, not a model's): 2.x families 16 unless ``thinking_budget`` is 0;
level families by level (MINIMAL 8, LOW 16, MEDIUM 32, HIGH 64, XHIGH 128), the family's
default level when none is set, 0 for a budget of 0; families without thinking 0.
"""

from __future__ import annotations

import io
import re
from typing import Any

from PIL import Image

from imagejobs.core import tokens
from imagejobs.core.models import ModelInfo
from imagejobs.emulator.analysis import ImageDecodeError, decode_image
from imagejobs.emulator.request import GenerateRequest, ImagePart
from imagejobs.emulator.wire import RpcError

THINKING_TOKENS = 16
THINKING_TOKENS_BY_LEVEL = {"MINIMAL": 8, "LOW": 16, "MEDIUM": 32, "HIGH": 64, "XHIGH": 128}
_VERSION_RE = re.compile(r"gemini-(\d+)(?:\.(\d+))?")


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height from the image header (full decode only if the header is unreadable)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:
        try:
            pixels = decode_image(data)
        except ImageDecodeError:
            raise RpcError(400, "Unable to process input image: not a decodable image") from None
        return pixels.shape[1], pixels.shape[0]


def image_part_tokens(request: GenerateRequest, image: ImagePart, size: tuple[int, int]) -> int:
    try:
        return tokens.image_tokens(
            request.model,
            size[0],
            size[1],
            image.media_resolution,
            global_resolution=request.media_resolution,
        )
    except ValueError as exc:
        raise RpcError(400, f"Invalid media_resolution: {exc}") from None


def prompt_counts(request: GenerateRequest, sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """(text tokens, image tokens) of the prompt, system instruction included."""
    text = tokens.text_tokens("\n".join(request.texts)) + tokens.text_tokens(request.system_text)
    image = sum(
        image_part_tokens(request, part, size)
        for part, size in zip(request.images, sizes, strict=True)
    )
    return text, image


def thinks(request: GenerateRequest) -> bool:
    """2.5 and later models think unless ``thinking_budget`` is 0."""
    if request.thinking_budget == 0:
        return False
    match = _VERSION_RE.search(request.model.lower())
    if not match:
        return False
    major, minor = int(match.group(1)), int(match.group(2) or 0)
    return (major, minor) >= (2, 5)


def thinking_tokens(request: GenerateRequest, info: ModelInfo | None = None) -> int:
    """Thoughts the emulator reports for ``request`` (see the module docstring)."""
    if info is None:
        return THINKING_TOKENS if thinks(request) else 0
    thinking = info.thinking
    if thinking.control == "none" or request.thinking_budget == 0:
        return 0
    if thinking.control == "budget":
        return THINKING_TOKENS
    level = request.thinking_level or thinking.default_level or "HIGH"
    return THINKING_TOKENS_BY_LEVEL[level]


def details(text_count: int, image_count: int) -> list[dict[str, Any]]:
    result = [{"modality": "TEXT", "tokenCount": text_count}]
    if image_count:
        result.append({"modality": "IMAGE", "tokenCount": image_count})
    return result


def usage_metadata(
    request: GenerateRequest,
    sizes: list[tuple[int, int]],
    output_text: str,
    info: ModelInfo | None = None,
) -> dict[str, Any]:
    text_count, image_count = prompt_counts(request, sizes)
    prompt = text_count + image_count
    candidates = tokens.text_tokens(output_text)
    thoughts = thinking_tokens(request, info)
    usage: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": candidates,
        "thoughtsTokenCount": thoughts,
        "totalTokenCount": prompt + candidates + thoughts,
        "promptTokensDetails": details(text_count, image_count),
    }
    return usage


def truncate_to_budget(
    request: GenerateRequest, text: str, info: ModelInfo | None = None
) -> tuple[str, str]:
    """Cut the answer when thoughts + answer exceed ``maxOutputTokens``: (text, finishReason)."""
    if request.max_output_tokens is None:
        return text, "STOP"
    thoughts = thinking_tokens(request, info)
    budget = request.max_output_tokens - thoughts
    if tokens.text_tokens(text) <= budget:
        return text, "STOP"
    return text[: max(0, budget) * 4], "MAX_TOKENS"


def count_tokens_body(request: GenerateRequest, sizes: list[tuple[int, int]]) -> dict[str, Any]:
    text_count, image_count = prompt_counts(request, sizes)
    return {
        "totalTokens": text_count + image_count,
        "promptTokensDetails": details(text_count, image_count),
    }
