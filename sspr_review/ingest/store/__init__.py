"""The history store (:class:`Store`) and the owner-only, atomic file writes the whole kit uses."""

from .compact import lean_arrow_memory, release_arrow_memory
from .files import atomic_write, private_dir, write_json, write_private_text
from .history import TIME_COLUMN, Interval, Store, merge_intervals
from .lock import write_lock
from .snapshots import SNAPSHOT_FILES, SNAPSHOT_TABLES, choose_snapshot

__all__ = [
    "SNAPSHOT_FILES",
    "SNAPSHOT_TABLES",
    "TIME_COLUMN",
    "Interval",
    "Store",
    "atomic_write",
    "choose_snapshot",
    "lean_arrow_memory",
    "merge_intervals",
    "private_dir",
    "release_arrow_memory",
    "write_json",
    "write_lock",
    "write_private_text",
]
