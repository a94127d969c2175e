"""Redis key names of the governance pieces, and the check on the names that go in them."""

from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}")


def check_name(kind: str, value: str) -> str:
    """``value`` if it is a usable project, model or producer name; ValueError naming it else.

    Names go inside a Redis hash tag (``{...}``), so braces, spaces and control characters are
    refused rather than escaped.
    """
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(
            f"{kind} name {value!r} is not usable: 1-200 characters of letters, digits and "
            "._:@/- starting with a letter or digit"
        )
    return value


def scope(prefix: str, *names: str) -> str:
    """``prefix:{a|b}``: every key of one scope shares the hash tag, hence one cluster slot."""
    return f"{prefix}:{{{'|'.join(names)}}}"


def model_key(model: str) -> str:
    """The model id as keys name it: ``models/Gemini-2.5-Flash`` -> ``gemini-2.5-flash``."""
    return model.strip().lower().removeprefix("models/")
