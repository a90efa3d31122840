"""The SSPR configuration rules: who changed password reset this week, and does the configuration meet the
recommendation.

``sspr_policy_changed``
    One finding per changed setting per "Update SSPR Settings" event of the week (and per re-enabling of
    writeback): **high** when the change weakens SSPR (:func:`~.sspr_settings.judge`), **low** when it is
    neutral or strengthens it.
``password_writeback_disabled``
    One per "Disable password writeback for directory" event of the week: **high** in a tenant that syncs from
    on-premises (``organization.onPremisesSyncEnabled`` in the policy snapshot), **medium** otherwise (or when
    that is not known).
``configuration_gap``
    One per review, **low**, listing the recommended settings the configuration deviates from
    (:func:`~.posture.policy_state`), continuing while a deviation persists.

The critical chain: a weakening change (a weakening ``sspr_policy_changed`` or a ``password_writeback_disabled``)
made by an account that, in the ``policy_chain_hours`` before it, had its password reset (self-service, or by an
administrator), its security info changed, or a risk detection, is **critical** and says which: the pattern of an
attacker who took over an administrator's account and now eases the next takeovers.

Fingerprints: the event and the setting (``sspr_policy_changed``), the event (``password_writeback_disabled``),
nothing but the kind (``configuration_gap``, one per tenant).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from ..core.settings import AnalysisSettings
from ._util import NAT, NS_PER_HOUR, as_datetime, iso, ns, plain
from .accounts import account_pairs, resets_between
from .model import Finding, fingerprint
from .posture import hybrid_tenant, policy_state, typed_value
from .prepare import ReviewData
from .security_info import security_info_changes
from .sspr_settings import WRITEBACK, meets, setting
from .window import ReviewWindow

__all__ = ["find_configuration_gap", "find_sspr_policy_changes", "find_writeback_disabled", "takeover_chains"]

#: At most this many deviating settings are named in a ``configuration_gap`` title (all are in the evidence).
_TITLE_SETTINGS: Final = 4
#: A deviating value this short is named in the title beside its setting ("Methods required to reset (1)").
_SHORT: Final = 24


# ------------------------------------------------------------------------------------------- the chain
def _signals(data: ReviewData, start: int, end: int) -> pd.DataFrame:
    """What may show a taken-over account in ``[start, end)`` (ns): password resets (self-service or by an
    administrator), security-info changes and risk detections, one row each (``time``, ``user_id``, ``user_upn``,
    ``signal``, ``detail``)."""
    resets = resets_between(data, start, end)
    admin = (resets["type"] == "admin").to_numpy(dtype=bool)
    frames = [
        pd.DataFrame(
            {
                "time": resets["time"].to_numpy(),
                "user_id": resets["user_id"].array,
                "user_upn": resets["user_upn"].array,
                "signal": np.where(admin, "password reset by an administrator", "self-service password reset"),
                "detail": np.where(
                    admin,
                    "by " + resets["initiator"].fillna("an unknown account").astype(str).to_numpy(),
                    "from " + resets["ip"].fillna("an unknown IP").astype(str).to_numpy(),
                ),
            }
        )
    ]
    changes = security_info_changes(data, start, end)
    frames.append(
        pd.DataFrame(
            {
                "time": changes["time"].to_numpy(),
                "user_id": changes["user_id"].array,
                "user_upn": changes["user_upn"].array,
                "signal": "security info changed",
                "detail": changes["activity"].fillna("").astype(str).to_numpy()
                + " from "
                + changes["ip"].fillna("an unknown IP").astype(str).to_numpy(),
            }
        )
    )
    if data.has("risk"):
        risk = data.risk
        t = ns(risk["detected_time"].fillna(risk["activity_time"]))
        risk = risk[(t >= start) & (t < end) & (t != NAT)]
        frames.append(
            pd.DataFrame(
                {
                    "time": ns(risk["detected_time"].fillna(risk["activity_time"])),
                    "user_id": risk["user_id"].astype("string").array,
                    "user_upn": risk["user_upn"].astype("string").array,
                    "signal": "risk detection",
                    "detail": risk["risk_event_type"].fillna("(type missing)").astype(str).to_numpy()
                    + " ("
                    + risk["risk_level"].fillna("level unknown").astype(str).to_numpy()
                    + ") from "
                    + risk["ip"].fillna("an unknown IP").astype(str).to_numpy(),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out["user_id"], out["user_upn"] = out["user_id"].astype("string"), out["user_upn"].astype("string")
    return out


def takeover_chains(data: ReviewData, changes: pd.DataFrame, settings: AnalysisSettings) -> list[list[dict[str, Any]]]:
    """Per row of ``changes`` (positional): the signals (``{signal, time, detail}``, oldest first) on the account
    that made it in the ``policy_chain_hours`` before it; empty for a change that does not weaken SSPR."""
    out: list[list[dict[str, Any]]] = [[] for _ in range(len(changes))]
    weak = changes["weakens"].fillna(False).to_numpy(dtype=bool)
    if not weak.any():
        return out
    width = settings.policy_chain_hours * NS_PER_HOUR
    t = ns(changes["time"])
    signals = _signals(data, int(t[weak].min()) - width, int(t[weak].max()))
    accounts = pd.DataFrame({"user_id": changes["changed_by_id"].array, "user_upn": changes["changed_by_upn"].array})
    pairs = account_pairs(accounts, signals)
    if pairs.empty:
        return out
    left, right = pairs["l"].to_numpy(), pairs["r"].to_numpy()
    ts = signals["time"].to_numpy(dtype=np.int64)[right]
    keep = weak[left] & (ts < t[left]) & (ts >= t[left] - width)
    for li, ri in sorted(zip(left[keep], right[keep], strict=True), key=lambda p: (p[0], signals["time"].iat[p[1]])):
        row = signals.iloc[ri]
        out[int(li)].append({"signal": str(row["signal"]), "time": iso(int(row["time"])), "detail": str(row["detail"])})
    return out


def _chain_words(chain: list[dict[str, Any]], who: str, hours: int) -> str:
    kinds = list(dict.fromkeys(c["signal"] for c in chain))
    return f"{who} had a {' and a '.join(kinds)} in the {hours} hours before"


def _critical_action(who: str) -> str:
    return (
        f"Treat {who}'s account as taken over: revoke its sessions, reset its password and methods through a known "
        "channel, check what else it changed (audit log: initiated by it), then restore the setting."
    )


def _event_evidence(row: pd.Series, chain: list[dict[str, Any]], hours: int) -> dict[str, Any]:
    """What every finding about one policy event says of it: who, when, from where, which event, the chain."""
    return {
        "changed_by": _text(row["changed_by"]),
        "changed_by_id": _text(row["changed_by_id"]),
        "changed_at": iso(row["time"]),
        "ip": _text(row["ip"]),
        "event_id": _text(row["event_id"]),
        "correlation_id": _text(row["correlation_id"]),
        "chain": chain,
        "chain_hours": hours,
    }


def _event_finding(
    kind: str, row: pd.Series, severity: str, title: str, evidence: dict[str, Any], action: str, *key: object
) -> Finding:
    """A finding about the policy event of ``row``, of its author, at its time; ``key`` identifies it."""
    when = as_datetime(row["time"])
    author = _text(row["changed_by"])
    return Finding(
        kind=kind,
        severity=severity,
        title=title,
        users=(author,) if author else (),
        start=when,
        end=when,
        evidence=plain(evidence),
        action=action,
        fingerprint=fingerprint(kind, *key),
    )


# --------------------------------------------------------------------------------- sspr_policy_changed
def _evidence_value(row: pd.Series, side: str) -> Any:
    if not bool(row["parsed"]):
        raw = row[f"{side}_raw"]
        return None if pd.isna(raw) else str(raw)
    value = row[side]
    return typed_value(str(row["setting"]), None if pd.isna(value) else str(value))


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _change_finding(row: pd.Series, chain: list[dict[str, Any]], settings: AnalysisSettings) -> Finding:
    item = setting(str(row["setting"]))
    who = _text(row["changed_by"]) or "an unknown account"
    weakens = bool(row["weakens"]) if not pd.isna(row["weakens"]) else False
    title = f"{row['label']} {row['phrase']} by {who}"
    if not bool(row["known"]):
        title = f"SSPR setting {title} (a setting the kit does not know)"
    elif not bool(row["parsed"]):
        title += f" (logged: {row['old_raw']} → {row['new_raw']})"
    hours = settings.policy_chain_hours
    severity = "critical" if weakens and chain else "high" if weakens else "low"
    if chain:
        title += f": {_chain_words(chain, who, hours)}"
    new = None if pd.isna(row["new"]) else str(row["new"])
    reasons = [r for r in str(row["reasons"]).split("; ") if r] if not pd.isna(row["reasons"]) else []
    evidence = {
        "setting": str(row["setting"]),
        "label": str(row["label"]),
        "old": _evidence_value(row, "old"),
        "new": _evidence_value(row, "new"),
        "old_shown": _text(row["old_shown"]),
        "new_shown": _text(row["new_shown"]),
        "old_raw": _text(row["old_raw"]),
        "new_raw": _text(row["new_raw"]),
        "weakens": weakens,
        "direction": str(row["direction"]),
        "reasons": reasons,
        "recommended": item.recommended_text or None,
        "meets_recommendation": meets(item, new, settings.sspr_reconfirm_max_days) if bool(row["parsed"]) else None,
        "known_setting": bool(row["known"]),
        "parsed": bool(row["parsed"]),
    } | _event_evidence(row, chain, hours)
    if chain:
        action = _critical_action(who)
    elif weakens:
        action = (
            f"Confirm with {who}, through a known channel, that this change was intended. If it was not, restore "
            f"{row['label']} ({item.recommended_text or 'its earlier value'}) in Entra ID > Password reset and review "
            f"{who}'s recent sign-ins and changes."
        )
    else:
        action = "No action if the change was planned: it is listed for the record of who changed password reset."
    key = (row["event_id"], row["setting"])
    return _event_finding("sspr_policy_changed", row, severity, title, evidence, action, *key)


def _week_changes(data: ReviewData, window: ReviewWindow) -> pd.DataFrame:
    return data.policy.between(window.start, window.end).changes


def _disabled(changes: pd.DataFrame) -> np.ndarray:
    return ((changes["setting"] == WRITEBACK) & (changes["new"] == "Disabled")).fillna(False).to_numpy(dtype=bool)


def find_sspr_policy_changes(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> list[Finding]:
    """``sspr_policy_changed``: see the module docstring."""
    changes = _week_changes(data, window)
    changes = changes[~_disabled(changes)].reset_index(drop=True)
    if changes.empty:
        return []
    chains = takeover_chains(data, changes, settings)
    return [_change_finding(changes.iloc[i], chains[i], settings) for i in range(len(changes))]


# -------------------------------------------------------------------------- password_writeback_disabled
def _writeback_finding(row: pd.Series, chain: list[dict[str, Any]], hybrid: bool | None, hours: int) -> Finding:
    who = _text(row["changed_by"]) or "an unknown account"
    where = (
        " in a tenant that syncs from on-premises"
        if hybrid
        else " (the tenant does not sync from on-premises)"
        if hybrid is False
        else ""
    )
    title = f"Password writeback disabled by {who}{where}"
    severity = "critical" if chain else "high" if hybrid else "medium"
    if chain:
        title += f": {_chain_words(chain, who, hours)}"
        action = _critical_action(who)
    else:
        action = (
            f"Confirm with {who} that disabling writeback was intended. Until it is enabled again (Entra Connect: "
            "optional features, or Cloud Sync), users whose accounts come from Active Directory cannot reset their "
            "password by SSPR, and the helpdesk takes the calls."
        )
    evidence = {"hybrid": hybrid} | _event_evidence(row, chain, hours)
    return _event_finding("password_writeback_disabled", row, severity, title, evidence, action, row["event_id"])


def find_writeback_disabled(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> list[Finding]:
    """``password_writeback_disabled``: see the module docstring."""
    changes = _week_changes(data, window)
    changes = changes[_disabled(changes)].reset_index(drop=True)
    if changes.empty:
        return []
    chains = takeover_chains(data, changes, settings)
    hybrid = hybrid_tenant(data.policy_snapshot())
    hours = settings.policy_chain_hours
    return [_writeback_finding(changes.iloc[i], chains[i], hybrid, hours) for i in range(len(changes))]


# ----------------------------------------------------------------------------------- configuration_gap
def find_configuration_gap(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> list[Finding]:
    """``configuration_gap``: see the module docstring."""
    state = policy_state(data, window, settings)
    deviating = state.deviations()
    if deviating.empty:
        return []
    named = [
        f"{r.label} ({r.yours})" if len(str(r.yours)) <= _SHORT else str(r.label)
        for r in deviating.head(_TITLE_SETTINGS).itertuples()
    ]
    more = len(deviating) - len(named)
    n = len(deviating)
    title = (
        f"SSPR configuration deviates from the recommendation in {n} setting{'s' if n != 1 else ''}: "
        + "; ".join(named)
        + (f" and {more} more" if more > 0 else "")
    )
    unknown = state.posture[state.posture["status"] == "unknown"]["label"].astype(str).tolist()
    evidence = {
        "deviations": [
            {k: (None if pd.isna(v) else str(v)) for k, v in row.items() if k != "status"}
            for row in deviating.to_dict(orient="records")
        ],
        "count": n,
        "unknown": unknown,
        "hybrid": state.hybrid,
        "snapshot": iso(state.snapshot),
    }
    return [
        Finding(
            kind="configuration_gap",
            severity="low",
            title=title,
            users=(),
            start=window.start,
            end=window.end,
            evidence=plain(evidence),
            action="Set these to the recommended values (Entra ID > Password reset; Protection > Authentication "
            "methods and Password protection; Entra Connect for writeback), or note why your tenant differs.",
            fingerprint=fingerprint("configuration_gap"),
        )
    ]
