"""Result-cache key: equal requests, equal keys; any difference, another key."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from imagejobs.core.cache_key import result_cache_key

A = hashlib.sha256(b"a").hexdigest()
B = hashlib.sha256(b"b").hexdigest()
BASE: dict[str, Any] = {
    "image_sha256s": [A, B],
    "task": "classify",
    "params": {"prompt": None, "labels": ["cat", "dog"], "multi_label": False},
    "model": "gemini-2.5-flash",
    "options": {"temperature": 0.5, "max_output_tokens": 1024},
}


def key(**changes: Any) -> str:
    return result_cache_key(**{**BASE, **changes})


def test_equal_requests_give_equal_keys_whatever_their_spelling() -> None:
    assert key().startswith("v1:") and len(key()) == 3 + 64
    assert key() == key(
        image_sha256s=[A.upper(), B],
        model="models/Gemini-2.5-Flash ",
        params={"multi_label": False, "labels": ["cat", "dog"]},  # null left out, keys reordered
        options={"max_output_tokens": 1024.0, "temperature": 0.5, "thinking_budget": None},
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"image_sha256s": [B, A]},  # order of images
        {"image_sha256s": [A]},
        {"task": "detect"},
        {"params": {**BASE["params"], "labels": ["dog", "cat"]}},  # label order is in the prompt
        {"params": {**BASE["params"], "multi_label": True}},
        {"params": {**BASE["params"], "prompt": ""}},
        {"model": "gemini-2.5-pro"},
        {"options": {**BASE["options"], "temperature": 0.51}},
        {"options": {**BASE["options"], "media_resolution": "LOW"}},
    ],
)
def test_any_difference_changes_the_key(changes: dict[str, Any]) -> None:
    assert key(**changes) != key()


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match=r"images\[1\] is not a sha256"):
        key(image_sha256s=[A, "abc"])
    with pytest.raises(ValueError, match="at least one image"):
        key(image_sha256s=[])
    with pytest.raises(ValueError, match="unknown task 'paint'"):
        key(task="paint")
    with pytest.raises(ValueError, match=r"options.temperature must be a finite number"):
        key(options={"temperature": float("nan")})
    with pytest.raises(ValueError, match="model must be named"):
        key(model=" ")
    with pytest.raises(ValueError, match=r"params.when must be JSON \(got datetime\)"):
        import datetime

        key(params={"when": datetime.datetime(2026, 1, 1)})
