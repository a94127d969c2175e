"""Wrapping one of kombu's methods once per process: how the broker fixes install themselves
(:mod:`imagejobs.broker.redis_close_fix`, :mod:`imagejobs.broker.redis_client_reuse`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Method = Callable[..., Any]


def wrap_once(owner: Any, name: str, marker: str, wrap: Callable[[Method], Method]) -> None:
    """Replace ``owner.<name>`` by ``wrap(original)``, unless a wrapper carrying ``marker`` is
    there already (every app a process builds installs the fixes; they must not stack)."""
    original = getattr(owner, name)
    if getattr(original, marker, False):
        return
    wrapped = wrap(original)
    setattr(wrapped, marker, True)
    wrapped.__doc__ = wrapped.__doc__ or original.__doc__
    setattr(owner, name, wrapped)
