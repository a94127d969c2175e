"""The one failure type of image checks: an image the service refuses, and why."""

from __future__ import annotations

REJECT_CODES = (
    "unsupported_type",
    "corrupt",
    "too_large",
    "too_many_pixels",
    "decompression_bomb",
    "empty",
)


class ImageRejected(ValueError):
    """An image the service refuses; ``code`` says why, the message says what was wrong."""

    def __init__(self, code: str, message: str) -> None:
        if code not in REJECT_CODES:
            raise ValueError(f"unknown ImageRejected code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
