"""Sorting Gemini failures into retryable and permanent, and reading Gemini's retry advice.

The SDK raises ``google.genai.errors.APIError`` subclasses for HTTP errors, but lets transport
errors (httpx / httpx2 timeouts and connection failures) through unwrapped. It also ignores the
``RetryInfo.retryDelay`` Gemini sends with a 429, so we read it here.
"""

from __future__ import annotations

import re
from typing import Any

RETRYABLE_CODES = frozenset({408, 429, 500, 502, 503, 504})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


class GeminiCallError(Exception):
    """A failed Gemini call, classified."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        code: int | None = None,
        status: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code
        self.status = status
        self.retry_after_s = retry_after_s

    @property
    def error_code(self) -> str:
        """A short code for the job row, e.g. ``gemini_429`` or ``gemini_timeout``."""
        if self.code is not None:
            return f"gemini_{self.code}"
        return "gemini_" + (self.status or "unavailable").lower()


def parse_duration(value: Any) -> float | None:
    """Parse a protobuf Duration string such as ``"15s"`` or ``"0.5s"``."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return float(match.group(1))
    return None


def retry_delay_from_body(body: Any) -> float | None:
    """The ``RetryInfo.retryDelay`` in a google.rpc error body, if any."""
    if not isinstance(body, dict):
        return None
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, dict) else None
    if not isinstance(details, list):
        return None
    for detail in details:
        if isinstance(detail, dict) and "retryDelay" in detail:
            return parse_duration(detail["retryDelay"])
    return None


def _retry_after_header(response: Any) -> float | None:
    headers = getattr(response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _is_transport_error(exc: BaseException) -> str | None:
    """Name the transport failure if ``exc`` is an httpx/httpx2 error, else None."""
    for cls in type(exc).__mro__:
        module = cls.__module__.split(".")[0]
        if module in {"httpx", "httpx2", "httpcore"}:
            if "Timeout" in cls.__name__:
                return "timeout"
            return "connection"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionError):
        return "connection"
    return None


def classify_error(exc: BaseException) -> GeminiCallError:
    """Turn whatever the SDK raised into a :class:`GeminiCallError`."""
    if isinstance(exc, GeminiCallError):
        return exc
    from google.genai import errors as genai_errors

    if isinstance(exc, genai_errors.APIError):
        code = int(exc.code) if exc.code is not None else None
        message = exc.message or str(exc)
        retry_after = retry_delay_from_body(exc.details)
        if retry_after is None:
            retry_after = _retry_after_header(exc.response)
        retryable = code in RETRYABLE_CODES or (code is not None and code >= 500)
        return GeminiCallError(
            f"Gemini {code} {exc.status or ''}: {message}".replace("  ", " "),
            retryable=retryable,
            code=code,
            status=exc.status,
            retry_after_s=retry_after,
        )
    kind = _is_transport_error(exc)
    if kind is not None:
        return GeminiCallError(
            f"Gemini {kind} error: {type(exc).__name__}: {exc}",
            retryable=True,
            status=kind.upper(),
        )
    return GeminiCallError(f"{type(exc).__name__}: {exc}", retryable=False, status="UNKNOWN")
