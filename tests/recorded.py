"""Outputs the real Gemini API returned, copied into the repository (``tests/fixtures``).

Each record names its public source; ``tests/fixtures/README.md`` says how they were read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RECORDS_PATH = Path(__file__).resolve().parent / "fixtures" / "real-gemini-outputs.json"


def load_records(kind: str | None = None) -> list[dict[str, Any]]:
    """Every recorded output, or those of one ``kind`` (detection, segmentation, tokens, other)."""
    records: list[dict[str, Any]] = json.loads(RECORDS_PATH.read_text(encoding="utf-8"))
    return [r for r in records if kind is None or r["kind"] == kind]
