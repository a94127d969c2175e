"""Wire helpers: lenient JSON and base64, key normalisation, google.rpc error bodies.

Google's front end parses request JSON leniently: its own REST samples send single-quoted
strings (``{'file': {'display_name': 'IMAGE'}}``) and trailing commas, and the real API takes
them. ``loads_lenient`` accepts the same: strict JSON first, then with single-quoted strings
turned into JSON strings and commas before ``]``/``}`` dropped (both outside strings).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from starlette.requests import Request
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
# Messages as the real API words them (gemini-wire.md section 3; python-genai#1875).
DEFAULT_MESSAGES = {
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}
RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"
QUOTA_FAILURE_TYPE = "type.googleapis.com/google.rpc.QuotaFailure"
HELP_TYPE = "type.googleapis.com/google.rpc.Help"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
QUOTA_METRIC = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
QUOTA_ID = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
QUOTA_VALUE = "10"
RATE_LIMITS_URL = "https://ai.google.dev/gemini-api/docs/rate-limits"

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
    model: str = "gemini-2.5-flash",
) -> RpcError:
    """The error a fault or script entry produces.

    A 429 carries QuotaFailure, Help and RetryInfo (default delay "1s") as real 429s do; other
    codes carry no details unless a script entry asks for a ``retryDelay``.
    """
    if code == 429:
        delay = retry_delay or "1s"
        violations = [quota_violation(QUOTA_METRIC, QUOTA_ID, model, QUOTA_VALUE)]
        return RpcError(
            code,
            message or quota_message(violations, delay),
            status,
            quota_details(violations, delay),
        )
    details = [{"@type": RETRY_INFO_TYPE, "retryDelay": retry_delay}] if retry_delay else []
    return RpcError(code, message or DEFAULT_MESSAGES.get(code, f"error {code}"), status, details)


def quota_violation(metric: str, quota_id: str, model: str, value: str) -> dict[str, Any]:
    """One QuotaFailure violation, shaped as real 429 bodies shape it."""
    return {
        "quotaMetric": metric,
        "quotaId": quota_id,
        "quotaDimensions": {"location": "global", "model": model},
        "quotaValue": value,
    }


def quota_message(violations: list[dict[str, Any]], delay: str) -> str:
    lines = "".join(
        f"\n* Quota exceeded for metric: {v['quotaMetric']}, limit: {v['quotaValue']}, "
        f"model: {v['quotaDimensions']['model']}"
        for v in violations
    )
    return (
        "You exceeded your current quota, please check your plan and billing details. For more "
        f"information on this error, head to: {RATE_LIMITS_URL}. To monitor your current usage, "
        f"head to: https://ai.dev/usage?tab=rate-limit. {lines}\nPlease retry in {delay}."
    )


def quota_details(violations: list[dict[str, Any]], delay: str) -> list[dict[str, Any]]:
    """QuotaFailure, Help and RetryInfo, in the order real 429 bodies list them."""
    return [
        {"@type": QUOTA_FAILURE_TYPE, "violations": violations},
        {
            "@type": HELP_TYPE,
            "links": [
                {"description": "Learn more about Gemini API quotas", "url": RATE_LIMITS_URL}
            ],
        },
        {"@type": RETRY_INFO_TYPE, "retryDelay": delay},
    ]


def bad_request(message: str, field: str) -> RpcError:
    """400 INVALID_ARGUMENT with a BadRequest field violation, as proto JSON errors carry."""
    violation = {"field": field, "description": message}
    return RpcError(
        400, message, details=[{"@type": BAD_REQUEST_TYPE, "fieldViolations": [violation]}]
    )


def api_key_of(request: Request) -> str:
    """The key of a request (``x-goog-api-key`` header, else ``?key=``), or ""."""
    return request.headers.get("x-goog-api-key") or request.query_params.get("key") or ""


# Lenient JSON ---------------------------------------------------------------------------------


def loads_lenient(raw: bytes | str) -> Any:
    """Parse request JSON the way Google's front end does (single quotes, trailing commas)."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return json.loads(_relax(text))
    except ValueError as exc:
        raise RpcError(400, f"Invalid JSON payload received. {_json_reason(exc)}") from None


def _json_reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"Unexpected token at line {exc.lineno} column {exc.colno}: {exc.msg}."
    return "Unexpected token."


def _relax(text: str) -> str:
    """Single-quoted strings -> JSON strings; commas before ``]``/``}`` dropped."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            end, value = _read_string(text, i)
            out.append(json.dumps(value) if ch == "'" else text[i:end])
            i = end
            continue
        if ch == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j < n and text[j] in "]}":
                i += 1
                continue
        out.append(ch)
        i += 1
    return "".join(out)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/"}


def _read_string(text: str, start: int) -> tuple[int, str]:
    """(index after the closing quote, decoded value) of the string opening at ``start``."""
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and i + 5 < len(text):
                chars.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            chars.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        if ch == quote:
            return i + 1, "".join(chars)
        chars.append(ch)
        i += 1
    raise ValueError("unterminated string")


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
