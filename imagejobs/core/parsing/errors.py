"""The one failure type of parsing: the model's output could not be understood."""

from __future__ import annotations

PARSE_CODES = (
    "truncated",
    "no_json",
    "invalid_json",
    "empty",
    "blocked",
    "wrong_shape",
    "unknown_labels",
)


class ParseError(Exception):
    """The model's output could not be understood; ``code`` says how, the message says why.

    Not a ValueError: a bug that raises ValueError must not pass for a bad answer.
    """

    def __init__(self, code: str, message: str) -> None:
        if code not in PARSE_CODES:
            raise ValueError(f"unknown ParseError code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
