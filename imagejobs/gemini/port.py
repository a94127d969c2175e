"""What the worker needs from Gemini, as plain data: no SDK types leak past this interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class InlineImage:
    data: bytes
    mime: str


@dataclass(frozen=True)
class FileImage:
    uri: str
    mime: str


ImagePart = InlineImage | FileImage


@dataclass(frozen=True)
class GenerateRequest:
    model: str
    images: list[ImagePart]
    text: str
    system_instruction: str | None = None
    response_mime_type: str | None = None
    response_schema: dict[str, Any] | None = None
    thinking_budget: int | None = None
    thinking_level: str | None = None  # Gemini 3.x: MINIMAL | LOW | MEDIUM | HIGH
    temperature: float | None = None
    max_output_tokens: int | None = None
    media_resolution: str | None = None  # Gemini 3: LOW | MEDIUM | HIGH | ULTRA_HIGH


@dataclass(frozen=True)
class TokenUsage:
    prompt: int | None = None
    candidates: int | None = None
    thoughts: int | None = None
    total: int | None = None
    image: int | None = None
    text: int | None = None

    def __add__(self, other: TokenUsage) -> TokenUsage:
        def add(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return TokenUsage(
            prompt=add(self.prompt, other.prompt),
            candidates=add(self.candidates, other.candidates),
            thoughts=add(self.thoughts, other.thoughts),
            total=add(self.total, other.total),
            image=add(self.image, other.image),
            text=add(self.text, other.text),
        )


@dataclass(frozen=True)
class GenerateReply:
    text: str | None
    finish_reason: str | None
    usage: TokenUsage = field(default_factory=TokenUsage)
    model_version: str | None = None
    block_reason: str | None = None


@dataclass(frozen=True)
class RemoteFile:
    name: str  # files/abc123
    uri: str
    mime: str
    size_bytes: int
    state: str  # PROCESSING | ACTIVE | FAILED
    expires_at: datetime | None = None
    error: str | None = None


class GeminiPort(Protocol):
    """The calls imagejobs makes to Gemini."""

    @property
    def api_base(self) -> str:
        """Identifies the endpoint (uploaded files belong to one endpoint)."""
        ...

    def generate(self, request: GenerateRequest) -> GenerateReply: ...

    def upload(self, data: bytes, mime: str, display_name: str) -> RemoteFile: ...

    def get_file(self, name: str) -> RemoteFile: ...

    def wait_active(self, name: str, *, timeout_s: float) -> RemoteFile:
        """Poll until the uploaded file is ACTIVE (FAILED or a timeout raise)."""
        ...
