"""Cost of a Gemini call from its token counts and a price table (USD per million tokens)."""

from __future__ import annotations

import re

# What may follow a known model id for the price to still apply: a version or release tag
# ("-001", "-preview-05-20", "-exp-03-25", "-latest", "@001"), never another model name
# ("-lite", "-8b", "-image").
_VERSION_SUFFIX = re.compile(r"(?:[-@](?:\d+|preview|exp|experimental|latest|stable)\b).*")


def price_key(model: str, prices: dict[str, dict[str, float]]) -> str | None:
    """The price-table key that applies to ``model`` (exact, else longest versioned prefix)."""
    name = model.strip().lower().removeprefix("models/")
    table = {key.lower().removeprefix("models/"): key for key in prices}
    if name in table:
        return table[name]
    best: str | None = None
    for known, original in table.items():
        if (
            name.startswith(known)
            and _VERSION_SUFFIX.fullmatch(name[len(known) :])
            and (best is None or len(known) > len(best.lower()))
        ):
            best = original
    return best


def cost_usd(
    model: str, prompt_tokens: int, output_tokens: int, prices: dict[str, dict[str, float]]
) -> float | None:
    """USD cost of ``prompt_tokens`` in and ``output_tokens`` out (output includes thoughts).

    None when the model has no price (unknown models are not guessed).
    """
    if prompt_tokens < 0 or output_tokens < 0:
        raise ValueError(
            f"token counts must be >= 0, got prompt={prompt_tokens} output={output_tokens}"
        )
    key = price_key(model, prices)
    if key is None:
        return None
    price = prices[key]
    try:
        input_price = float(price["input"])
        output_price = float(price["output"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"price for {key!r} needs numeric 'input' and 'output' (USD per million tokens)"
        ) from None
    return (prompt_tokens * input_price + output_tokens * output_price) / 1_000_000
