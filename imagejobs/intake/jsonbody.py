"""Reading a job body's JSON safely: nesting is bounded before anything recurses into it.

``json.loads`` recurses once per level (1,000 levels raise RecursionError) and so do the checks
after it, so the depth is measured first: on the raw text with one regular-expression pass that
skips whole strings (fast even for megabytes of base64), and on already-decoded values (Celery
interop) without recursion. A job body legitimately nests one level above its ``metadata``
(limit :data:`MAX_METADATA_DEPTH`); anything deeper is refused naming the top-level field.
"""

from __future__ import annotations

import json
import re
from typing import Any

from imagejobs.core.jobspec import MAX_METADATA_DEPTH, nesting_depth, too_deep_message
from imagejobs.intake.errors import InvalidRequest, bad

MAX_BODY_DEPTH = MAX_METADATA_DEPTH + 1  # the body object, then metadata's own levels

# A whole JSON string (escapes included), or one structural character.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}:]', re.DOTALL)


def _too_deep(field: str) -> InvalidRequest:
    return bad(field, too_deep_message(MAX_BODY_DEPTH - 1))


def _key(token: str | None) -> str:
    if token is None:
        return "body"
    try:
        return str(json.loads(token))
    except ValueError:
        return "body"


def check_text_depth(text: str, *, max_depth: int = MAX_BODY_DEPTH) -> None:
    """Raise a 422 InvalidRequest naming the top-level field whose value nests more than
    ``max_depth - 1`` levels deep (the body object itself is level 1). Malformed JSON is left
    to the parser."""
    depth = 0
    last_string: str | None = None  # the last string seen directly in the top-level object
    key: str | None = None  # the top-level key whose value we are in
    for match in _TOKENS.finditer(text):
        token = match.group()
        first = token[0]
        if first in "{[":
            depth += 1
            if depth > max_depth:
                raise _too_deep(_key(key))
        elif first in "}]":
            depth -= 1
        elif first == ":":
            if depth == 1:
                key = last_string
        elif depth == 1:
            last_string = token


def load_json(raw: bytes | str, field: str = "body") -> Any:
    """Parse a JSON job body (or multipart ``job`` part), refusing deep nesting first.

    Raises a 422 InvalidRequest naming ``field`` when the text is not JSON, or the top-level field
    that nests too deeply.
    """
    try:
        text = raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw))
    except UnicodeDecodeError as exc:
        raise bad(field, f"is not valid JSON: {exc}") from None
    check_text_depth(text)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise bad(field, f"is not valid JSON: {exc}") from None


def check_value_depth(body: Any) -> None:
    """The same bound on an already-decoded body (a dict from Celery interop), iteratively."""
    if isinstance(body, dict):
        for name, value in body.items():
            if nesting_depth(value, limit=MAX_BODY_DEPTH - 1) > MAX_BODY_DEPTH - 1:
                raise _too_deep(str(name))
    elif nesting_depth(body, limit=MAX_BODY_DEPTH) > MAX_BODY_DEPTH:
        raise _too_deep("body")
