"""Decide which image parts go inline (base64 in the request) and which through the Files API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Placement = Literal["inline", "file"]


def b64_size(n: int) -> int:
    """Bytes of the base64 encoding of ``n`` bytes (``4 * ceil(n / 3)``)."""
    if n < 0:
        raise ValueError(f"size must be >= 0, got {n}")
    return 4 * ((n + 2) // 3)


@dataclass(frozen=True)
class PartSize:
    """One image part: ``key`` identifies its content (sha256), ``size_bytes`` its raw size."""

    key: str
    size_bytes: int


def plan_transport(
    parts: list[PartSize],
    text_bytes: int,
    inline_limit: int,
    overhead_per_part: int = 128,
) -> dict[str, Placement]:
    """Placement per part key: everything inline when the request fits ``inline_limit``,
    otherwise the largest parts (ties by key) move to ``"file"`` one by one until the inline
    rest fits.

    The inline total is ``text_bytes + sum(b64_size(size) + overhead_per_part)`` over inline
    parts; a key appearing twice (same content) counts once. If even text alone exceeds the
    limit, every part goes to ``"file"``.
    """
    if inline_limit <= 0:
        raise ValueError(f"inline_limit must be positive, got {inline_limit}")
    if text_bytes < 0 or overhead_per_part < 0:
        raise ValueError("text_bytes and overhead_per_part must be >= 0")
    sizes: dict[str, int] = {}
    for part in parts:
        if part.size_bytes < 0:
            raise ValueError(f"part {part.key!r} has a negative size {part.size_bytes}")
        if part.key in sizes and sizes[part.key] != part.size_bytes:
            raise ValueError(
                f"part {part.key!r} appears with two sizes ({sizes[part.key]} and "
                f"{part.size_bytes}); the same key must mean the same content"
            )
        sizes[part.key] = part.size_bytes
    cost = {key: b64_size(size) + overhead_per_part for key, size in sizes.items()}
    total = text_bytes + sum(cost.values())
    plan: dict[str, Placement] = dict.fromkeys(sizes, "inline")
    for key in sorted(sizes, key=lambda k: (-sizes[k], k)):
        if total <= inline_limit:
            break
        plan[key] = "file"
        total -= cost[key]
    return plan
