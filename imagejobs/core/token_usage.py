"""Tokens a Gemini call was billed for, as plain data (the store records it, the Gemini port
returns it; neither depends on the other for it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TokenUsage:
    prompt: int | None = None
    candidates: int | None = None
    thoughts: int | None = None
    total: int | None = None
    image: int | None = None
    text: int | None = None

    def __add__(self, other: TokenUsage) -> TokenUsage:
        def add(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return TokenUsage(
            prompt=add(self.prompt, other.prompt),
            candidates=add(self.candidates, other.candidates),
            thoughts=add(self.thoughts, other.thoughts),
            total=add(self.total, other.total),
            image=add(self.image, other.image),
            text=add(self.text, other.text),
        )
