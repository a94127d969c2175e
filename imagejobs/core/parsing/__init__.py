"""Robust parsing of what Gemini really writes: fences, prose, trailing commas, cut-off output.

Real models wrap JSON in ```json fences even when told not to, add prose before and after,
repeat boxes with different labels and get cut off at max output tokens (see
tests/fixtures/real-gemini-outputs.json). Everything here is pure text/JSON handling:

* ``json_text``: the first JSON value in a text (``extract_json``, ``remove_trailing_commas``);
* ``model_output``: a whole answer, with blocked, empty and cut-off answers explained
  (``parse_model_output``) and text answers unwrapped (``parse_text_answer``);
* ``items``: detect / segment items from that JSON (``parse_items``);
* ``labels``: classify answers mapped onto the allowed labels (``parse_labels``);
* ``errors``: ``ParseError``, the one failure type, its ``code`` one of ``PARSE_CODES``.
"""

from __future__ import annotations

from imagejobs.core.parsing.errors import PARSE_CODES, ParseError
from imagejobs.core.parsing.items import ItemsResult, RawItem, parse_items
from imagejobs.core.parsing.json_text import extract_json, remove_trailing_commas
from imagejobs.core.parsing.labels import parse_labels
from imagejobs.core.parsing.model_output import (
    BLOCKED_FINISH_REASONS,
    parse_model_output,
    parse_text_answer,
)

__all__ = [
    "BLOCKED_FINISH_REASONS",
    "PARSE_CODES",
    "ItemsResult",
    "ParseError",
    "RawItem",
    "extract_json",
    "parse_items",
    "parse_labels",
    "parse_model_output",
    "parse_text_answer",
    "remove_trailing_commas",
]
