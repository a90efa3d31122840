"""The review's collector setting: objects that exist before it are left out of the collector's passes, and put
back afterwards, even when the review fails."""

from __future__ import annotations

import gc
import weakref

import pytest

from sspr_review.core.heap import preexisting_frozen


class _Cycle:
    """Garbage only the cyclic collector frees: it refers to itself."""

    def __init__(self) -> None:
        self.me = self


def test_objects_existing_before_are_frozen_during_the_block_and_collected_after() -> None:
    gc.collect()
    old = _Cycle()
    old_ref = weakref.ref(old)
    with preexisting_frozen():
        assert gc.get_freeze_count() > 0  # what existed, the cycle included, is left out of the passes
        del old
        young = _Cycle()
        young_ref = weakref.ref(young)
        del young
        gc.collect()
        assert young_ref() is None  # the block's own garbage is collected as usual
        assert old_ref() is not None  # the frozen cycle is not traversed
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert old_ref() is None  # back in the collector's care, and freed: nothing is lost


def test_the_objects_are_put_back_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError), preexisting_frozen():
        raise RuntimeError("a review failed")
    assert gc.get_freeze_count() == 0
