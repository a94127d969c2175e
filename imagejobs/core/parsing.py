"""Robust parsing of what Gemini really writes: fences, prose, trailing commas, cut-off output.

Real models wrap JSON in ```json fences even when told not to, add prose before and after,
repeat boxes with different labels and get cut off at max output tokens (see
tests/fixtures/real-gemini-outputs.json). Everything here is pure text/JSON handling.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from imagejobs.core.geometry import Box2D, normalise_box_2d

PARSE_CODES = (
    "truncated",
    "no_json",
    "invalid_json",
    "empty",
    "blocked",
    "wrong_shape",
    "unknown_labels",
)

BLOCKED_FINISH_REASONS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "LANGUAGE",
    }
)

ITEM_LIST_KEYS = (
    "objects",
    "items",
    "detections",
    "masks",
    "boxes",
    "segmentations",
    "results",
    "predictions",
)

# Wrapper keys whose object value may hold the item list one level down ({"result": {...}}).
WRAPPER_KEYS = ("result", "response", "output", "data", "answer", "segmentation")
# Where an item may keep its mask: the docs' "mask", else a polygon under another name.
MASK_KEYS = ("mask", "polygon", "polygons", "segmentation", "contour")
MAX_WRAPPER_DEPTH = 3

MAX_CANDIDATES = 200

_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_+.-]*)[^\n`]*\n?(.*?)```", re.DOTALL)
_OPEN_FENCE_RE = re.compile(r"```[ \t]*[A-Za-z0-9_+.-]*[^\n`]*\n?")


class ParseError(ValueError):
    """The model's output could not be understood; ``code`` says how, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        if code not in PARSE_CODES:
            raise ValueError(f"unknown ParseError code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message


# JSON extraction ------------------------------------------------------------------------------


def remove_trailing_commas(text: str) -> str:
    """Drop commas directly before ``]`` or ``}`` outside JSON strings (string-aware)."""
    out: list[str] = []
    in_string = False
    escaped = False
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            out.append(ch)
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j >= n or text[j] not in "]}":
                out.append(ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


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
    in_string = False
    escaped = False
    closers = {"[": "]", "{": "}"}
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
        elif ch in closers:
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


def _finish_name(finish_reason: object) -> str | None:
    """``MAX_TOKENS`` from ``"MAX_TOKENS"``, ``FinishReason.MAX_TOKENS``, ``FINISH_REASON_...``."""
    if finish_reason is None:
        return None
    name = getattr(finish_reason, "name", None)
    text = name if isinstance(name, str) else str(finish_reason)
    text = text.rsplit(".", 1)[-1].upper().strip()
    return text.removeprefix("FINISH_REASON_") or None


def parse_model_output(text: str | None, finish_reason: str | None) -> object:
    """Parse a JSON task's model text, explaining blocked, empty and cut-off answers."""
    reason = _finish_name(finish_reason)
    if reason in BLOCKED_FINISH_REASONS:
        raise ParseError(
            "blocked",
            f"Gemini blocked the answer (finishReason {reason}); no usable output was returned",
        )
    truncated_message = (
        "the model's output was cut off at max output tokens (finishReason MAX_TOKENS); "
        "raise max_output_tokens or ask for fewer objects"
    )
    if text is None or not text.strip():
        if reason == "MAX_TOKENS":
            raise ParseError(
                "truncated",
                truncated_message + " (no text at all: thinking may have used the whole budget)",
            )
        suffix = f" (finishReason {reason})" if reason else ""
        raise ParseError("empty", f"the model returned no text{suffix}")
    try:
        return extract_json(text)
    except ParseError as exc:
        if reason == "MAX_TOKENS":
            raise ParseError("truncated", truncated_message) from None
        raise exc from None


# Items (detect / segment) ---------------------------------------------------------------------


@dataclass
class RawItem:
    """One detected object as the model gave it (box normalised and validated)."""

    label: str
    box_2d: Box2D
    mask: object | None = None


@dataclass
class ItemsResult:
    """Valid items plus how many were dropped and why, and notes on repaired items."""

    items: list[RawItem] = field(default_factory=list)
    dropped: int = 0
    drop_reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _is_polygon(value: object) -> bool:
    """A list of >= 3 [a, b] number pairs, or a list of such rings."""
    if not isinstance(value, list) or not value:
        return False
    rings = (
        value
        if isinstance(value[0], list) and value[0] and isinstance(value[0][0], list)
        else [value]
    )
    return all(
        isinstance(ring, list)
        and len(ring) >= 3
        and all(
            isinstance(p, list)
            and len(p) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in p)
            for p in ring
        )
        for ring in rings
    )


def _item_mask(entry: dict[str, object]) -> object | None:
    for key in MASK_KEYS:
        if entry.get(key) is not None:
            return entry[key]
    return None


def _item_list(value: object, depth: int = 0) -> list[object]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        if "box_2d" in value:  # one bare item (a lone polygon is too ambiguous to be one)
            return [value]
        for key in ITEM_LIST_KEYS:
            if isinstance(value.get(key), list):
                return list(value[key])
        lists = [
            v for v in value.values() if isinstance(v, list) and all(isinstance(e, dict) for e in v)
        ]
        if len(lists) == 1:
            return list(lists[0])
        nested = [v for k, v in value.items() if isinstance(v, dict) and k in WRAPPER_KEYS]
        if len(nested) == 1 and depth < MAX_WRAPPER_DEPTH:
            return _item_list(nested[0], depth + 1)
        raise ParseError(
            "wrong_shape",
            "expected a JSON list of objects with box_2d and label; got an object with keys "
            f"{sorted(map(str, value))[:10]}",
        )
    raise ParseError(
        "wrong_shape",
        f"expected a JSON list of objects with box_2d and label; got {type(value).__name__}",
    )


def _box_from_polygon(mask: object, axis: str) -> list[float]:
    """[ymin, xmin, ymax, xmax] around a polygon's points read in ``axis`` order."""
    rings = mask if isinstance(mask, list) and isinstance(mask[0][0], list) else [mask]
    points = [p for ring in rings for p in ring]  # type: ignore[union-attr]
    ys = [p[0] if axis == "yx" else p[1] for p in points]
    xs = [p[1] if axis == "yx" else p[0] for p in points]
    return [min(ys), min(xs), max(ys), max(xs)]


def parse_items(value: object, *, axis_default: str = "yx") -> ItemsResult:
    """Detections / segmentation items from parsed JSON; invalid items are dropped with reasons.

    Each item needs a valid ``box_2d``; an item with only a polygon mask gets the box around
    its points (read in ``axis_default`` order, noted in ``notes``). A missing label becomes
    ``"object"``, a non-string label is turned into a string. The mask may sit under ``mask``
    or another polygon key (``polygon``, ``segmentation``...). Duplicates are kept (real Gemini
    repeats boxes with other labels). Any wrapper object around the list is looked through.
    """
    result = ItemsResult()
    for index, entry in enumerate(_item_list(value)):
        if not isinstance(entry, dict):
            result.dropped += 1
            result.drop_reasons.append(f"item {index}: not an object ({type(entry).__name__})")
            continue
        mask = _item_mask(entry)
        raw_box = entry.get("box_2d")
        if raw_box is None and _is_polygon(mask):
            raw_box = _box_from_polygon(mask, axis_default)
            order = "[y, x]" if axis_default == "yx" else "[x, y]"
            result.notes.append(
                f"item {index}: no box_2d; box taken from its polygon read as {order}"
            )
        if raw_box is None:
            result.dropped += 1
            result.drop_reasons.append(f"item {index}: no box_2d")
            continue
        box, reason = normalise_box_2d(raw_box)
        if box is None:
            result.dropped += 1
            result.drop_reasons.append(f"item {index}: {reason}")
            continue
        raw_label = entry.get("label")
        label = raw_label if isinstance(raw_label, str) else "" if raw_label is None else None
        if label is None:
            label = str(raw_label)
        label = label.strip() or "object"
        result.items.append(RawItem(label=label, box_2d=box, mask=mask))
    return result


# Labels (classify) ----------------------------------------------------------------------------


def _label_candidates(value: object) -> list[object]:
    if isinstance(value, dict):
        for key in ("labels", "label", "classes", "class", "categories", "category"):
            if key in value:
                return _label_candidates(value[key])
        raise ParseError(
            "wrong_shape",
            f'expected {{"labels": [...]}}; got an object with keys {sorted(map(str, value))[:10]}',
        )
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str):
        return [value]
    raise ParseError("wrong_shape", f"expected a list of labels; got {type(value).__name__}")


def _clean_label(text: str) -> str:
    return text.strip().strip("\"'`").strip().rstrip(".").strip().casefold()


def parse_labels(value: object, allowed: list[str]) -> list[str]:
    """Labels chosen by the model, mapped case-insensitively onto ``allowed`` (deduplicated).

    Unknown labels are dropped when some valid ones remain; when none remain, ParseError names
    them. An empty list is a valid answer (no label applies).
    """
    canonical = {_clean_label(a): a for a in allowed}
    chosen: list[str] = []
    unknown: list[str] = []
    for candidate in _label_candidates(value):
        text = candidate if isinstance(candidate, str) else str(candidate)
        key = _clean_label(text)
        parts = [key]
        if key not in canonical and ("," in key or "\n" in key):
            parts = [_clean_label(p) for p in re.split(r"[,\n]", key) if p.strip()]
        for part in parts:
            if part in canonical:
                if canonical[part] not in chosen:
                    chosen.append(canonical[part])
            elif part:
                unknown.append(text.strip() if len(parts) == 1 else part)
    if unknown and not chosen:
        raise ParseError(
            "unknown_labels",
            f"the model answered with labels not in the allowed list: {unknown}; "
            f"allowed: {allowed}",
        )
    return chosen


# Text answers (caption / ask / compare) -------------------------------------------------------


def parse_text_answer(text: str | None) -> str:
    """The answer text with surrounding whitespace and a wrapping ``` fence removed."""
    if text is None or not text.strip():
        raise ParseError("empty", "the model returned no text")
    stripped = text.strip()
    match = re.fullmatch(r"```[^\n]*\n(.*?)\n?```", stripped, re.DOTALL)
    if match:
        stripped = match.group(1).strip()
    if not stripped:
        raise ParseError("empty", "the model returned an empty fenced block")
    return stripped
