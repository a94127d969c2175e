"""Webhook event bodies: job id, status, task, model, error, links, metadata and a results
summary, under 20 KB.

The full results stay behind ``GET`` (the ``links``); when the summary would make the event too
big it is trimmed step by step (heavy fields such as masks dropped, lists cut, long strings
shortened, then only top-level numbers and short strings, then nothing) and marked
``"truncated": true``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from imagejobs.core.jobspec import WEBHOOK_EVENTS

EVENT_TYPES: tuple[str, ...] = WEBHOOK_EVENTS  # the events a producer may subscribe to
DEFAULT_MAX_BYTES = 20_000
MAX_ERROR_MESSAGE_CHARS = 1_000  # with metadata's 16 KiB cap, an event always fits

# Keys whose values are bulky by nature (pixel data, polygons, raw model output).
HEAVY_KEYS = frozenset(
    {
        "mask",
        "masks",
        "mask_png",
        "mask_base64",
        "mask_url",
        "segmentation",
        "polygon",
        "polygons",
        "raw",
        "raw_response",
        "raw_text",
    }
)

# (largest list length kept, longest string kept) for each trimming step, mildest first.
_STEPS: tuple[tuple[int | None, int | None], ...] = (
    (None, None),
    (50, None),
    (20, None),
    (20, 200),
    (10, 200),
    (5, 80),
    (2, 80),
    (1, 40),
    (0, 40),
)


def encode_event(event: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed) for ``event``: compact UTF-8 JSON."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def build_event(
    event_type: str,
    job: Mapping[str, Any],
    links: Mapping[str, Any],
    metadata: Mapping[str, Any] | None,
    summary: Mapping[str, Any],
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The event ``{"type", "timestamp", "data": {id, status, task, model, error, links,
    metadata, results}}``.

    ``job`` needs ``id`` and ``status``; its ``task``, ``model`` and ``error`` (``{"code",
    "message"}`` or None, its message cut to :data:`MAX_ERROR_MESSAGE_CHARS`) are copied, null
    when missing. The encoded event (:func:`encode_event`) is at most ``max_bytes``; the results
    summary is trimmed to get there. Raises ValueError naming the problem when an input is wrong
    or the event cannot fit even with no results.
    """
    _check_inputs(event_type, job, summary, max_bytes)
    event: dict[str, Any] = {
        "type": event_type,
        "timestamp": _timestamp(timestamp or datetime.now(UTC)),
        "data": {
            "id": str(job["id"]),
            "status": str(job["status"]),
            "task": _optional_text(job, "task"),
            "model": _optional_text(job, "model"),
            "error": _error(job.get("error")),
            "links": dict(links),
            "metadata": dict(metadata or {}),
            "results": dict(summary),
        },
    }
    for part in ("links", "metadata", "results"):
        try:
            encode_event(event["data"][part])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"webhook {part} is not JSON-serialisable: {exc}") from None
    return _fitted(event, max_bytes)


def _check_inputs(
    event_type: str, job: Mapping[str, Any], summary: Mapping[str, Any], max_bytes: int
) -> None:
    if event_type not in EVENT_TYPES:
        raise ValueError(
            f"unknown webhook event type {event_type!r}; expected one of {EVENT_TYPES}"
        )
    for key in ("id", "status"):
        if job.get(key) in (None, ""):
            raise ValueError(f"job is missing {key!r} for the {event_type} event")
    if not isinstance(summary, Mapping):
        raise ValueError(f"results summary must be a dict, got {type(summary).__name__}")
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")


def _timestamp(when: datetime) -> str:
    """UTC with milliseconds and a ``Z`` (a naive time is taken as UTC)."""
    when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fitted(event: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """``event`` with its results summary trimmed until it encodes to at most ``max_bytes``."""
    if _size(event) <= max_bytes:
        return event
    for results in _trimmed(event["data"]["results"]):
        event["data"]["results"] = results
        if _size(event) <= max_bytes:
            return event
    bare = _size({**event, "data": {**event["data"], "results": {}}})
    meta = len(encode_event(event["data"]["metadata"]))
    raise ValueError(
        f"webhook event is {bare} bytes even without results (metadata {meta} bytes); "
        f"limit {max_bytes}"
    )


def _optional_text(job: Mapping[str, Any], key: str) -> str | None:
    value = job.get(key)
    return None if value is None else str(value)


def _error(error: Any) -> dict[str, str | None] | None:
    """``{"code", "message"}`` from the job's error (a mapping), or None when there is none."""
    if error is None:
        return None
    if not isinstance(error, Mapping):
        raise ValueError(f"job error must be a dict with code and message, got {error!r}")
    code, message = error.get("code"), error.get("message")
    text = None if message is None else str(message)
    if text is not None and len(text) > MAX_ERROR_MESSAGE_CHARS:  # the full one is behind GET
        text = text[: MAX_ERROR_MESSAGE_CHARS - 1] + "…"
    return {"code": None if code is None else str(code), "message": text}


def _size(event: Mapping[str, Any]) -> int:
    return len(encode_event(event))


def _trimmed(summary: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Ever smaller versions of ``summary``, each marked ``"truncated": true``."""
    for max_items, max_chars in _STEPS:
        shrunk = _shrink(summary, max_items, max_chars)
        yield {**shrunk, "truncated": True}
    scalars = {
        key: value
        for key, value in summary.items()
        if key not in HEAVY_KEYS
        and (
            isinstance(value, bool | int | float | type(None))
            or (isinstance(value, str) and len(value) <= 40)
        )
    }
    yield {**scalars, "truncated": True}
    yield {"truncated": True}


def _shrink(value: Any, max_items: int | None, max_chars: int | None) -> Any:
    if isinstance(value, Mapping):
        return {
            key: _shrink(item, max_items, max_chars)
            for key, item in value.items()
            if key not in HEAVY_KEYS
        }
    if isinstance(value, list | tuple):
        kept = value if max_items is None else value[:max_items]
        return [_shrink(item, max_items, max_chars) for item in kept]
    if isinstance(value, str) and max_chars is not None and len(value) > max_chars:
        return value[: max_chars - 1] + "…"
    return value
