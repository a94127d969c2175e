"""A worker settles its heap once it consumes: start-up's objects frozen out of the cyclic
collector's scans, the youngest generation collected less often."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from worker.main import GC_YOUNG_THRESHOLD, settle_heap


@pytest.fixture
def own_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


class Node:
    def __init__(self) -> None:
        self.me = self


@pytest.mark.usefixtures("own_collector")
def test_settling_freezes_start_up_and_spaces_young_collections() -> None:
    _young, middle, oldest = gc.get_threshold()
    settle_heap(signal=None, sender=None)
    assert gc.get_freeze_count() > 0  # start-up's objects: not scanned again
    assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, middle, oldest)
    cycle = weakref.ref(Node())  # garbage made after it is still collected
    assert cycle() is not None
    gc.collect()
    assert cycle() is None
