"""Detect and segment items from parsed JSON: boxes checked, masks found, drops explained."""

from __future__ import annotations

from dataclasses import dataclass, field

from imagejobs.core.geometry import Box2D, normalise_box_2d
from imagejobs.core.parsing.errors import ParseError

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
