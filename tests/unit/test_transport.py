"""Inline vs Files API planning."""

from __future__ import annotations

import pytest

from imagejobs.core.transport import PartSize, b64_size, plan_transport


@pytest.mark.parametrize(("n", "size"), [(0, 0), (1, 4), (2, 4), (3, 4), (4, 8), (300, 400)])
def test_b64_size(n: int, size: int) -> None:
    assert b64_size(n) == size


def test_everything_inline_when_it_fits() -> None:
    parts = [PartSize("a", 300), PartSize("b", 600)]
    exact = 400 + 128 + 800 + 128 + 50
    assert plan_transport(parts, 50, exact) == {"a": "inline", "b": "inline"}
    assert plan_transport(parts, 50, exact - 1) == {"a": "inline", "b": "file"}


def test_largest_parts_move_first_until_rest_fits() -> None:
    parts = [PartSize("s", 3000), PartSize("l", 30000), PartSize("m", 9000)]
    # inline costs: s 4128, m 12128, l 40128; text 100
    assert plan_transport(parts, 100, 17000) == {"s": "inline", "m": "inline", "l": "file"}
    assert plan_transport(parts, 100, 16000) == {"s": "inline", "m": "file", "l": "file"}
    assert plan_transport(parts, 100, 1000) == {"s": "file", "m": "file", "l": "file"}


def test_duplicate_keys_count_once() -> None:
    parts = [PartSize("a", 3000), PartSize("a", 3000)]
    assert plan_transport(parts, 0, 4128) == {"a": "inline"}


def test_ties_broken_by_key_deterministically() -> None:
    parts = [PartSize("b", 3000), PartSize("a", 3000), PartSize("c", 3000)]
    limit = 2 * 4128
    assert plan_transport(parts, 0, limit) == {"a": "file", "b": "inline", "c": "inline"}
    assert plan_transport(list(reversed(parts)), 0, limit) == plan_transport(parts, 0, limit)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="inline_limit"):
        plan_transport([], 0, 0)
    with pytest.raises(ValueError, match="negative size"):
        plan_transport([PartSize("a", -1)], 0, 10)
    with pytest.raises(ValueError, match="two sizes"):
        plan_transport([PartSize("a", 1), PartSize("a", 2)], 0, 10)
