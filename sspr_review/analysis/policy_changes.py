"""Changes of the SSPR configuration, read from the audit events that log them: :func:`parse_policy_changes`.

"Update SSPR Settings" (service Self-service Password Management) logs one ``modifiedProperties`` entry per
setting changed, with its old and new value (:mod:`.sspr_settings` reads and judges them); "Enable password
writeback for directory" and "Disable password writeback for directory" switch writeback. The normalised audit
table does not keep ``modifiedProperties``: they are read from ``raw``, the record as received, which the store
keeps beside every row.

The result is one row per changed setting per event (:data:`CHANGE_COLUMNS`) and one row per event
(:data:`SAVE_COLUMNS`). Nothing is dropped without a word: a setting the kit does not know and a value it cannot
read are kept (``known``, ``parsed`` false, the raw values beside), and an event whose record cannot be read is
a save with ``readable`` false. A property whose old and new value are the same is no change, and a save that
changed nothing is counted (``changed`` 0), not reported.

Vectorised as the rest of the analyses: the policy events are picked out of the audit table over the distinct
activity names, each distinct logged value is decoded once, each distinct (setting, old, new) is judged once;
the one step per event is reading its JSON record (policy events are a handful a week).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, cast

import numpy as np
import pandas as pd

from ..core.vocabulary import POLICY_ACTIVITIES, SSPR_POLICY_UPDATE, WRITEBACK_DISABLE
from ._util import NAT, lower, lower_isin, ns, to_ns
from .activities import is_success
from .sspr_settings import WRITEBACK, SettingType, canonical, decode_value, judge, setting, shown

__all__ = ["CHANGE_COLUMNS", "SAVE_COLUMNS", "UNCHANGED_COLUMNS", "PolicyChanges", "parse_policy_changes"]

#: One row per changed setting per event.
CHANGE_COLUMNS: Final[Mapping[str, str]] = {
    "time": "datetime64[ns, UTC]",
    "event_id": "string",
    "activity": "string",
    "setting": "string",  # as logged (the kit's spelling when it knows the setting)
    "label": "string",  # for titles: "Methods required to reset"
    "old": "string",  # canonical value (see sspr_settings.canonical); <NA>: none, or not readable
    "new": "string",
    "old_shown": "string",  # as the report shows it ("Yes", "never", method labels, the raw text if unreadable)
    "new_shown": "string",
    "old_raw": "string",  # as logged (JSON text when it was not a string)
    "new_raw": "string",
    "known": "boolean",  # the kit knows the setting
    "parsed": "boolean",  # both values could be read
    "new_parsed": "boolean",  # the new value could be read (the setting's value after the change is known)
    "direction": "string",  # weakens, strengthens, neutral
    "weakens": "boolean",
    "phrase": "string",  # follows the label in a title: "lowered from 2 to 1"
    "reasons": "string",  # why it weakens, "; "-joined
    "changed_by": "string",  # UPN, else display name (an app), else object id
    "changed_by_id": "string",
    "changed_by_upn": "string",
    "ip": "string",
    "correlation_id": "string",
}
#: One row per policy event (a save of the SSPR policy, or a writeback switch).
SAVE_COLUMNS: Final[Mapping[str, str]] = {
    "time": "datetime64[ns, UTC]",
    "event_id": "string",
    "activity": "string",
    "changed_by": "string",
    "readable": "boolean",  # its record could be read (else nothing of it is known)
    "properties": "Int64",  # modifiedProperties logged
    "changed": "Int64",  # of them, settings whose value changed
    "unchanged": "Int64",  # of them, the same value before and after
}


#: One row per setting a save logged with the same value before and after: no change, but its value then.
UNCHANGED_COLUMNS: Final[Mapping[str, str]] = {
    "time": "datetime64[ns, UTC]",
    "event_id": "string",
    "setting": "string",
    "new": "string",  # the canonical value (as in CHANGE_COLUMNS)
    "new_shown": "string",
    "changed_by": "string",  # who saved it (and changed nothing of it)
}


def _typed(frame: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    """``frame``'s ``columns`` in their types (missing where ``frame`` lacks one), positionally indexed."""
    out = {}
    for name, text in columns.items():
        dtype = pd.api.types.pandas_dtype(text)
        values = frame[name] if name in frame else pd.Series(pd.NA, index=frame.index, dtype=dtype)
        out[name] = (values if values.dtype == dtype else values.astype(dtype)).array  # of its type: as it is
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


@dataclass(frozen=True)
class PolicyChanges:
    """The changes of the SSPR configuration (``changes``, sorted by time), the events logging them (``saves``) and
    the values they logged unchanged (``unchanged``)."""

    changes: pd.DataFrame
    saves: pd.DataFrame
    #: The readable values saves logged unchanged (:data:`UNCHANGED_COLUMNS`): what a setting was, though no
    #: change of it was recorded.
    unchanged: pd.DataFrame = field(default_factory=lambda: _typed(pd.DataFrame(), UNCHANGED_COLUMNS))

    @classmethod
    def empty(cls) -> PolicyChanges:
        return cls(_typed(pd.DataFrame(), CHANGE_COLUMNS), _typed(pd.DataFrame(), SAVE_COLUMNS))

    def between(self, start: datetime | None, end: datetime) -> PolicyChanges:
        """Only what happened in ``[start, end)`` (``start`` None: from the beginning)."""

        def cut(frame: pd.DataFrame) -> pd.DataFrame:
            t = ns(frame["time"])
            keep = (t < to_ns(end)) & (t != NAT)
            if start is not None:
                keep &= t >= to_ns(start)
            kept: pd.DataFrame = frame[keep].reset_index(drop=True)
            return kept

        return PolicyChanges(cut(self.changes), cut(self.saves), cut(self.unchanged))

    def counts(self) -> dict[str, int]:
        """``events``, ``changes``, ``weakening``, ``unchanged_saves`` (events that changed nothing),
        ``unreadable_events``, ``unknown_settings`` and ``unparseable_values`` (changes with either)."""
        saves, changes = self.saves, self.changes
        return {
            "events": len(saves),
            "changes": len(changes),
            "weakening": int(changes["weakens"].fillna(False).sum()),
            "unchanged_saves": int(((saves["changed"] == 0) & saves["readable"]).fillna(False).sum()),
            "unreadable_events": int((~saves["readable"]).fillna(False).sum()),
            "unknown_settings": int((~changes["known"]).fillna(False).sum()),
            "unparseable_values": int((~changes["parsed"]).fillna(False).sum()),
        }


def _policy_rows(audit: pd.DataFrame) -> np.ndarray:
    """Positions of the successful policy events (computed on the distinct activity names)."""
    return np.flatnonzero(lower_isin(audit["activity"], POLICY_ACTIVITIES) & is_success(audit))


def _record(text: Any) -> Mapping[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, Mapping) else None


def _properties(raw: pd.Series) -> tuple[pd.DataFrame, np.ndarray]:
    """Every ``modifiedProperties`` entry of every target of each record (``row``: position in ``raw``,
    ``name``, ``old_raw``, ``new_raw``), and which records could be read."""
    records = [_record(text) for text in raw.tolist()]  # the one step per event: reading its JSON
    readable = np.array([r is not None for r in records], dtype=bool)
    targets = pd.Series([r.get("targetResources") if r is not None else None for r in records], dtype=object)
    targets = targets.explode()
    targets = targets[targets.map(lambda t: isinstance(t, Mapping))]
    props = targets.map(lambda t: t.get("modifiedProperties")).explode()
    props = props[props.map(lambda p: isinstance(p, Mapping))]
    frame = pd.DataFrame(
        {
            "row": props.index.to_numpy(dtype=np.int64),
            "name": props.map(lambda p: p.get("displayName")).to_numpy(dtype=object),
            "old_raw": props.map(lambda p: p.get("oldValue")).to_numpy(dtype=object),
            "new_raw": props.map(lambda p: p.get("newValue")).to_numpy(dtype=object),
        }
    )
    return frame, readable


def _as_text(values: pd.Series) -> pd.Series:
    """Logged values as text (a string as it is, anything else as JSON; null stays missing)."""
    return values.map(lambda v: v if isinstance(v, str) or v is None else json.dumps(v, sort_keys=True)).astype(
        "string"
    )


def _decode_column(values: pd.Series, kinds: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Canonical text of each value for its setting's type, and whether it was readable (decoded once per
    distinct pair: the values of a history's policy events, a handful a week)."""
    pairs = list(zip(kinds.astype(str).tolist(), map(json.dumps, values.tolist()), strict=True))
    read: dict[tuple[str, str], tuple[str | None, bool]] = {}
    for kind, value in dict.fromkeys(pairs):
        found = decode_value(json.loads(value))
        read[kind, value] = canonical(cast(SettingType, kind), found) if found.parsed else (None, False)
    verdicts = [read[pair] for pair in pairs]
    return pd.Series([v[0] for v in verdicts], dtype="string"), pd.Series([v[1] for v in verdicts], dtype="boolean")


def _judged(frame: pd.DataFrame, reconfirm_max_days: int) -> pd.DataFrame:
    """``direction``, ``phrase`` and ``reasons`` of each change (judged once per distinct setting, old, new)."""
    keys = frame[["setting", "old", "new"]].astype(object)
    keys = keys.where(keys.notna(), None)
    parsed = frame["parsed"].fillna(False).to_numpy(dtype=bool).tolist()
    judged: dict[tuple[Any, ...], tuple[str, str, str]] = {}
    rows = []
    for name, old, new, readable in zip(*(keys[c].tolist() for c in keys), parsed, strict=True):
        key = (name, old, new, readable)
        if key not in judged:
            if not readable:
                judged[key] = ("neutral", "changed (a value could not be read)", "")
            else:
                j = judge(setting(str(name)), old, new, reconfirm_max_days)
                judged[key] = (j.direction, j.phrase, "; ".join(j.reasons))
        rows.append(judged[key])
    return pd.DataFrame(
        {
            col: pd.Series([r[i] for r in rows], dtype="string")
            for i, col in enumerate(("direction", "phrase", "reasons"))
        }
    )


_WHO: Final = (
    "activity_time",
    "id",
    "activity",
    "initiator_upn",
    "initiator_name",
    "initiator_id",
    "ip",
    "correlation_id",
)


def _who(audit: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The events at ``rows``: when, which, who (UPN, else display name, else object id) and from where."""
    pick = audit[list(_WHO)].iloc[rows].reset_index(drop=True)  # not the other columns (the raw JSON among them)
    upn = pick["initiator_upn"].astype("string")
    return pd.DataFrame(
        {
            "time": pick["activity_time"],
            "event_id": pick["id"].astype("string"),
            "activity": pick["activity"].astype("string"),
            "changed_by": upn.fillna(pick["initiator_name"].astype("string")).fillna(
                pick["initiator_id"].astype("string")
            ),
            "changed_by_id": pick["initiator_id"].astype("string"),
            "changed_by_upn": upn,
            "ip": pick["ip"].astype("string"),
            "correlation_id": pick["correlation_id"].astype("string"),
        }
    )


def _sspr_changes(
    audit: pd.DataFrame, rows: np.ndarray, reconfirm: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The changes, saves and unchanged values of the "Update SSPR Settings" events at ``rows``."""
    who = _who(audit, rows)
    raw = audit["raw"].iloc[rows] if "raw" in audit else pd.Series([None] * len(rows), dtype=object)
    props, readable = _properties(raw.reset_index(drop=True))
    names = props["name"].map(lambda n: str(n).strip() if n is not None else "(unnamed)")
    items = names.map(setting)
    frame = pd.DataFrame(
        {
            "row": props["row"].to_numpy(),
            "setting": items.map(lambda s: s.name).astype("string").to_numpy(),
            "label": items.map(lambda s: s.label).astype("string").to_numpy(),
            "known": items.map(lambda s: s.type != "unknown").astype("boolean").to_numpy(),
            "old_raw": _as_text(props["old_raw"]).to_numpy(),
            "new_raw": _as_text(props["new_raw"]).to_numpy(),
        }
    )
    kinds = items.map(lambda s: s.type)
    old, old_ok = _decode_column(props["old_raw"], kinds)
    new, new_ok = _decode_column(props["new_raw"], kinds)
    frame["old"], frame["new"] = old.to_numpy(), new.to_numpy()
    frame["parsed"] = (old_ok & new_ok).to_numpy()
    frame["new_parsed"] = new_ok.to_numpy()
    same_raw = (frame["old_raw"].fillna("\x00") == frame["new_raw"].fillna("\x00")).to_numpy(dtype=bool)
    same = np.where(
        frame["parsed"].to_numpy(dtype=bool),
        (frame["old"].fillna("\x00") == frame["new"].fillna("\x00")).to_numpy(dtype=bool),
        same_raw,
    )
    unlock = (frame["setting"] == "EnableAccountUnlock").to_numpy(dtype=bool) & frame["new"].isna().to_numpy()
    same |= unlock & frame["parsed"].to_numpy(dtype=bool)  # its logged Null means "unchanged"
    counts = pd.DataFrame({"row": frame["row"], "same": same}).groupby("row")["same"].agg(["size", "sum"])
    saves = who.assign(
        readable=readable,
        properties=counts["size"].reindex(range(len(who)), fill_value=0).to_numpy(),
        unchanged=counts["sum"].reindex(range(len(who)), fill_value=0).to_numpy(),
    )
    saves["changed"] = saves["properties"] - saves["unchanged"]
    logged = frame[same & frame["parsed"].to_numpy(dtype=bool)].reset_index(drop=True)
    unchanged = pd.concat(
        [
            who.iloc[logged["row"].to_numpy()][["time", "event_id", "changed_by"]].reset_index(drop=True),
            logged[["setting", "new"]].assign(new_shown=_shown(logged, "new").to_numpy()),
        ],
        axis=1,
    )
    frame = frame[~same].reset_index(drop=True)
    frame[["direction", "phrase", "reasons"]] = _judged(frame, reconfirm).to_numpy()
    for side in ("old", "new"):
        frame[f"{side}_shown"] = _shown(frame, side)
    changes = pd.concat([who.iloc[frame["row"].to_numpy()].reset_index(drop=True), frame.drop(columns="row")], axis=1)
    return changes, saves, unchanged


def _shown(frame: pd.DataFrame, side: str) -> pd.Series:
    kinds = frame["setting"].map(lambda n: setting(str(n)).type)
    values = frame[side].astype(object).where(frame[side].notna(), None)
    out = [shown(k, v) for k, v in zip(kinds, values, strict=True)]  # per changed setting: a handful a week
    text = pd.Series(out, dtype="string")
    raw = frame[f"{side}_raw"].astype("string").fillna("null")
    return text.where(frame["parsed"].to_numpy(dtype=bool), raw)


def _writeback_changes(audit: pd.DataFrame, rows: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One change (setting :data:`~.sspr_settings.WRITEBACK`) and one save per writeback event at ``rows``."""
    who = _who(audit, rows)
    off = (lower(who["activity"].astype("string")) == WRITEBACK_DISABLE).to_numpy(dtype=bool)
    new = np.where(off, "Disabled", "Enabled")
    item = setting(WRITEBACK)
    missing = pd.Series(pd.NA, index=who.index, dtype="string")
    changes = who.assign(
        setting=WRITEBACK,
        label=item.label,
        old=missing,
        new=new,
        old_shown="(not logged)",
        new_shown=new,
        old_raw=missing,
        new_raw=missing,
        known=True,
        parsed=True,
        new_parsed=True,
        direction=np.where(off, "weakens", "strengthens"),
        phrase=np.where(off, "disabled", "enabled"),
        reasons=np.where(off, "passwords reset in the cloud no longer reach on-premises Active Directory", ""),
    )
    saves = who.assign(readable=True, properties=0, changed=1, unchanged=0)
    return changes, saves


def parse_policy_changes(audit: pd.DataFrame, reconfirm_max_days: int = 180) -> PolicyChanges:
    """The SSPR configuration changes logged in ``audit`` (normalised audit rows; ``raw`` needed for the "Update
    SSPR Settings" events, whose ``modifiedProperties`` it holds: without it each such event is a save that could
    not be read). ``reconfirm_max_days``: the longest recommended reconfirmation interval."""
    if audit.empty:
        return PolicyChanges.empty()
    rows = _policy_rows(audit)
    if rows.size == 0:
        return PolicyChanges.empty()
    update = (lower(audit["activity"].iloc[rows].astype("string")) == SSPR_POLICY_UPDATE).to_numpy(dtype=bool)
    sspr_changes, sspr_saves, unchanged = _sspr_changes(audit, rows[update], reconfirm_max_days)
    parts = [(sspr_changes, sspr_saves), _writeback_changes(audit, rows[~update])]
    changes = pd.concat([p[0] for p in parts if len(p[0])] or [parts[0][0]], ignore_index=True)
    saves = pd.concat([p[1] for p in parts if len(p[1])] or [parts[0][1]], ignore_index=True)
    changes = _typed(changes, CHANGE_COLUMNS)
    changes["weakens"] = (changes["direction"] == "weakens").astype("boolean")
    changes["reasons"] = changes["reasons"].mask(changes["reasons"] == "")
    order = ["time", "event_id", "setting"]
    return PolicyChanges(
        changes.sort_values(order, kind="stable").reset_index(drop=True),
        _typed(saves, SAVE_COLUMNS).sort_values(["time", "event_id"], kind="stable").reset_index(drop=True),
        _typed(unchanged, UNCHANGED_COLUMNS).sort_values(order, kind="stable").reset_index(drop=True),
    )
