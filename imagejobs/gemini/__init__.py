"""The Gemini adapter: google-genai behind a small interface, and error classification."""

from imagejobs.gemini.errors import GeminiCallError, classify_error
from imagejobs.gemini.port import (
    FileImage,
    GeminiPort,
    GenerateReply,
    GenerateRequest,
    ImagePart,
    InlineImage,
    RemoteFile,
    TokenUsage,
)

__all__ = [
    "FileImage",
    "GeminiCallError",
    "GeminiPort",
    "GenerateReply",
    "GenerateRequest",
    "ImagePart",
    "InlineImage",
    "RemoteFile",
    "TokenUsage",
    "classify_error",
]
