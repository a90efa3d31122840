"""The audit events that change the SSPR configuration, with the records as received: :func:`read_policy_events`.

The review reads the audit table without ``raw`` (a year of a large tenant's JSON would not fit), but the changes of
the SSPR policy are only in ``raw`` (``targetResources[].modifiedProperties``). They are a handful a week: this
reads, month file by month file, the rows whose activity is one of
:data:`~sspr_review.core.vocabulary.POLICY_ACTIVITIES` (compared on the ``activity`` column alone first), with
their ``raw``.
"""

from __future__ import annotations

import contextlib

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ...core import schema
from ...core.vocabulary import POLICY_ACTIVITIES
from .history import Store

__all__ = ["read_policy_events"]


def read_policy_events(store: Store) -> pd.DataFrame:
    """Every stored audit row of an SSPR configuration change (the audit table's columns and ``raw``), oldest
    first; an empty frame of those columns when there is none."""
    wanted = [*schema.AUDIT, "raw"]
    names = pa.array(sorted(POLICY_ACTIVITIES))
    pieces = []
    for file in store.table_files("audit"):
        with contextlib.suppress(FileNotFoundError), pq.ParquetFile(file) as handle:
            activity = handle.read(columns=["activity"]).column(0)
            mask = pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(activity)), value_set=names)
            if pc.any(mask).as_py():
                pieces.append(handle.read(columns=wanted).filter(mask).to_pandas())
    if not pieces:
        out = schema.empty("audit")
        out["raw"] = pd.Series(dtype="string")
        return out
    frame = schema.conform(pd.concat(pieces, ignore_index=True), "audit")
    frame["raw"] = pd.concat([p["raw"] for p in pieces], ignore_index=True).astype("string")
    return frame.sort_values("activity_time", kind="stable").reset_index(drop=True)
