"""Cost from token counts and the price table."""

from __future__ import annotations

import pytest

from imagejobs.core.pricing import cost_usd, price_key
from imagejobs.settings import DEFAULT_PRICES

PRICES = {
    "gemini-2.5-flash": {"input": 0.30, "output": 2.50},
    "gemini-2.5-flash-lite": {"input": 0.10, "output": 0.40},
}


def test_cost_arithmetic() -> None:
    cost = cost_usd("gemini-2.5-flash", 1_000_000, 2_000_000, PRICES)
    assert cost == pytest.approx(0.30 + 5.00)
    assert cost_usd("gemini-2.5-flash", 1290, 400, PRICES) == pytest.approx(
        (1290 * 0.30 + 400 * 2.50) / 1e6
    )


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("gemini-2.5-flash", "gemini-2.5-flash"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("Gemini-2.5-Flash", "gemini-2.5-flash"),
        ("gemini-2.5-flash-001", "gemini-2.5-flash"),
        ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
        ("gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
        ("models/gemini-2.5-flash-lite-preview-06-17", "gemini-2.5-flash-lite"),
        ("gemini-2.5-flash-image", None),
        ("gemini-2.5-flashy", None),
        ("gemini-9-ultra", None),
    ],
)
def test_price_lookup(model: str, key: str | None) -> None:
    assert price_key(model, PRICES) == key
    assert (cost_usd(model, 10, 10, PRICES) is None) == (key is None)


def test_lite_not_priced_as_flash_when_unlisted() -> None:
    only_flash = {"gemini-2.5-flash": PRICES["gemini-2.5-flash"]}
    assert cost_usd("gemini-2.5-flash-lite", 100, 100, only_flash) is None


def test_default_price_table_covers_default_model() -> None:
    assert cost_usd("models/gemini-3-flash-preview", 1120, 0, DEFAULT_PRICES) == pytest.approx(
        1120 * 0.50 / 1e6
    )


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="token counts"):
        cost_usd("gemini-2.5-flash", -1, 0, PRICES)
    with pytest.raises(ValueError, match="numeric 'input' and 'output'"):
        cost_usd("m", 1, 1, {"m": {"in": 1.0}})
