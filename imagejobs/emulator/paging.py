"""List pagination as the Gemini API does it: ``pageSize`` and opaque ``pageToken`` values.

A token is the URL-safe base64 of a one-letter prefix (which list it belongs to) and the offset
of the page it starts, so a token of another list, or a made-up one, is a 400.
"""

from __future__ import annotations

import base64

from starlette.requests import Request

from imagejobs.emulator.wire import RpcError


def page_bounds(
    request: Request, prefix: str, *, default_size: int, max_size: int
) -> tuple[int, int]:
    """``(start, size)`` of the page asked for: a missing or non-positive size is the default."""
    params = request.query_params
    raw_size = params.get("pageSize") or params.get("page_size")
    try:
        size = int(raw_size) if raw_size else default_size
    except ValueError:
        raise RpcError(400, f"Invalid pageSize {raw_size!r}: expected an integer.") from None
    size = min(size if size > 0 else default_size, max_size)
    token = params.get("pageToken") or params.get("page_token")
    return (_decode_token(token, prefix) if token else 0), size


def next_page_token(prefix: str, offset: int) -> str:
    """The token of the page that starts at ``offset``."""
    return base64.urlsafe_b64encode(f"{prefix}{offset}".encode()).decode()


def _decode_token(token: str, prefix: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if not text.startswith(prefix):
            raise ValueError(text)
        return int(text[len(prefix) :])
    except ValueError:
        raise RpcError(400, f"Invalid pageToken {token!r}.") from None
