"""A task's model answer as a whole: blocked, empty or cut-off answers explained, text unwrapped."""

from __future__ import annotations

import re

from imagejobs.core.parsing.errors import ParseError
from imagejobs.core.parsing.json_text import extract_json

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
