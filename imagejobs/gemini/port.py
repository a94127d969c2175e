"""What the worker needs from Gemini, as plain data: no SDK types leak past this interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from imagejobs.core.token_usage import TokenUsage


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
