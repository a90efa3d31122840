"""The history store (:class:`Store`): coverage, snapshots, the write lock and compact Arrow reads."""

from .compact import REVIEW_DECAY_MS, lean_arrow_memory, release_arrow_memory
from .history import TIME_COLUMN, Store
from .intervals import Interval, merge_intervals
from .lock import waiting_lock, write_lock
from .snapshots import SNAPSHOT_FILES, SNAPSHOT_TABLES, choose_snapshot

__all__ = [
    "REVIEW_DECAY_MS",
    "SNAPSHOT_FILES",
    "SNAPSHOT_TABLES",
    "TIME_COLUMN",
    "Interval",
    "Store",
    "choose_snapshot",
    "lean_arrow_memory",
    "merge_intervals",
    "release_arrow_memory",
    "waiting_lock",
    "write_lock",
]
