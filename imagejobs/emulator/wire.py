"""Wire helpers: key normalisation, lenient base64, google.rpc error bodies."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from starlette.responses import JSONResponse

STATUS_BY_CODE = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
DEFAULT_MESSAGES = {
    429: "You exceeded your current quota, please check your plan and billing details. "
    "[imagejobs emulator fault]",
    500: "An internal error has occurred. [imagejobs emulator fault]",
    503: "The model is overloaded. Please try again later. [imagejobs emulator fault]",
    504: "Deadline expired before operation could complete. [imagejobs emulator fault]",
}
RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"

# Keys whose *values* are maps of user-chosen names (schema properties): keep those names as is.
_NAME_MAP_KEYS = {"properties", "$defs", "defs", "definitions"}
_SNAKE_RE = re.compile(r"_([a-z0-9])")


class RpcError(Exception):
    """An error the emulator answers with a google.rpc.Status body."""

    def __init__(
        self,
        code: int,
        message: str,
        status: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_BY_CODE.get(code, "UNKNOWN")
        self.details = details or []

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.code, headers=headers)


def fault_error(
    code: int,
    message: str | None = None,
    status: str | None = None,
    retry_delay: str | None = None,
) -> RpcError:
    """The error a fault or script entry produces; 429s carry RetryInfo (default "1s")."""
    details: list[dict[str, Any]] = []
    if code == 429 or retry_delay:
        details.append({"@type": RETRY_INFO_TYPE, "retryDelay": retry_delay or "1s"})
    return RpcError(code, message or DEFAULT_MESSAGES.get(code, f"error {code}"), status, details)


def camel(key: str) -> str:
    """``mime_type`` -> ``mimeType``; camelCase keys pass through."""
    return _SNAKE_RE.sub(lambda m: m.group(1).upper(), key)


def normalise_keys(value: Any) -> Any:
    """Recursively rename dict keys to camelCase, except the names inside schema ``properties``."""
    if isinstance(value, list):
        return [normalise_keys(item) for item in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for key, item in value.items():
        new_key = camel(key) if isinstance(key, str) else key
        if new_key in _NAME_MAP_KEYS and isinstance(item, dict):
            result[new_key] = {name: normalise_keys(sub) for name, sub in item.items()}
        else:
            result[new_key] = normalise_keys(item)
    return result


def decode_base64(data: str, where: str) -> bytes:
    """Decode standard or URL-safe base64, with or without padding; ``where`` names the field."""
    cleaned = "".join(data.split()).replace("+", "-").replace("/", "_").rstrip("=")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise RpcError(400, f"Invalid value at '{where}': invalid base64 data") from None
