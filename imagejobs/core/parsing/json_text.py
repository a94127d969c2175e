"""The first JSON value in a model's text: whole, fenced, or embedded in prose, commas repaired.

String-aware throughout: brackets and commas inside JSON strings are never taken for syntax.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from imagejobs.core.parsing.errors import ParseError

MAX_CANDIDATES = 200

_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n`]*\n?(.*?)```", re.DOTALL)
_OPEN_FENCE_RE = re.compile(r"```[ \t]*[A-Za-z0-9_+.-]*[^\n`]*\n?")


def _syntax_indexes(text: str, start: int = 0) -> Iterator[int]:
    """Indexes (from ``start``) of the characters outside JSON string literals and their quotes."""
    in_string = False
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        else:
            yield i


def remove_trailing_commas(text: str) -> str:
    """Drop commas directly before ``]`` or ``}`` outside JSON strings (string-aware)."""
    parts = []
    kept_from = 0
    for i in _syntax_indexes(text):
        if text[i] == ",":
            after = i + 1
            while after < len(text) and text[after] in " \t\r\n":
                after += 1
            if after < len(text) and text[after] in "]}":
                parts.append(text[kept_from:i])
                kept_from = i + 1
    parts.append(text[kept_from:])
    return "".join(parts)


def _loads(candidate: str) -> tuple[bool, object, str]:
    """Parse ``candidate`` as JSON, retrying once without trailing commas."""
    try:
        return True, json.loads(candidate, strict=False), ""
    except ValueError as exc:
        first_error = str(exc)
    repaired = remove_trailing_commas(candidate)
    if repaired != candidate:
        try:
            return True, json.loads(repaired, strict=False), ""
        except ValueError:
            pass
    return False, None, first_error


def _balanced_end(text: str, start: int) -> int | None:
    """Index just past the bracket closing ``text[start]`` (string-aware), or None if unclosed."""
    stack: list[str] = []
    closers = {"[": "]", "{": "}"}
    for i in _syntax_indexes(text, start):
        ch = text[i]
        if ch in closers:
            stack.append(closers[ch])
        elif ch in "]}":
            if not stack or stack[-1] != ch:
                return None
            stack.pop()
            if not stack:
                return i + 1
    return None


def _looks_like_json(text: str, start: int) -> bool:
    """True when the bracket at ``start`` is followed by something a JSON value could hold."""
    rest = text[start + 1 : start + 200].lstrip()
    if not rest:
        return True
    if text[start] == "{":
        return rest[0] in '"}'
    return rest[0] in '{["-0123456789]'


def _fenced_blocks(text: str) -> list[str]:
    blocks = [m.group(2) for m in _FENCE_RE.finditer(text)]
    # An opening fence whose closing fence never came (output cut off): keep the rest.
    starts = list(_OPEN_FENCE_RE.finditer(text))
    if len(starts) % 2 == 1:
        blocks.append(text[starts[-1].end() :])
    return blocks


def extract_json(text: str) -> object:
    """The first JSON value in model text.

    Tries, in order: the whole text; each ``` fenced block (tagged or not, anywhere in prose);
    the first balanced ``[...]``/``{...}`` that parses. Trailing commas are repaired outside
    strings. Raises ParseError (empty / no_json / invalid_json) naming what was wrong.
    """
    if text is None or not text.strip():
        raise ParseError("empty", "the model returned no text")
    stripped = text.strip()
    ok, value, first_error = _loads(stripped)
    if ok:
        return value
    for block in _fenced_blocks(text):
        if block.strip():
            ok, value, error = _loads(block.strip())
            if ok:
                return value
    unclosed_at: int | None = None
    tried = 0
    skip_until = -1
    for match in re.finditer(r"[\[{]", text):
        start = match.start()
        if start < skip_until:
            continue  # nested inside a JSON-looking value that did not parse as a whole
        end = _balanced_end(text, start)
        json_like = _looks_like_json(text, start)
        if end is None:
            if json_like:
                # Everything after here is inside a value that never closes: do not return a
                # nested fragment (e.g. the first object of a cut-off list) as the answer.
                unclosed_at = start
                break
            continue
        ok, value, error = _loads(text[start:end])
        if ok:
            return value
        if json_like:
            skip_until = end
        first_error = error
        tried += 1
        if tried >= MAX_CANDIDATES:
            break
    if unclosed_at is not None:
        raise ParseError(
            "invalid_json",
            f"the JSON that starts at character {unclosed_at} never closes "
            "(unterminated array, object or string): the output looks cut off",
        )
    if tried == 0:
        raise ParseError(
            "no_json", f"no JSON array or object found in the model's text: {_preview(text)}"
        )
    raise ParseError("invalid_json", f"the model's JSON does not parse: {first_error}")


def _preview(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")
