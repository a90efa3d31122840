"""The cyclic garbage collector during a long computation: what existed before it is not traversed again.

A review allocates many short-lived objects, so Python's collector runs often. Its full passes walk every object
the process holds: at about 85,000 objects after the kit's imports (pandas, pyarrow, the Graph SDK), one full
pass costs about 40 ms, and a review at 100,000 users triggers one. :func:`preexisting_frozen` moves the objects
that exist when the computation starts into the collector's permanent generation (:func:`gc.freeze`) and back
into its oldest generation when it ends (:func:`gc.unfreeze`): nothing is lost, the garbage among them is
collected by the next full pass after the computation, and the computation's own objects are collected as usual.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["preexisting_frozen"]


@contextlib.contextmanager
def preexisting_frozen() -> Iterator[None]:
    """Leave the objects that exist now out of the collector's passes until the block ends. Nested or
    concurrent uses are harmless: an inner exit unfreezes early, which costs time, not memory."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
