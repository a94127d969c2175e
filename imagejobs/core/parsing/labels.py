"""Classify answers: the labels the model chose, mapped onto the allowed ones."""

from __future__ import annotations

import re

from imagejobs.core.parsing.errors import ParseError


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
