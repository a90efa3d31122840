"""The SSPR configuration as far as it is known at the end of a week: :func:`policy_state`.

Graph cannot read the SSPR policy itself, so its settings are known from the changes the audit log recorded
(:mod:`.policy_changes`): each setting's last known value is the newest change up to the week's end, and a
setting never changed in the stored history is unknown ("no change recorded since" the store's first event). What
Graph can read comes from the policy snapshot the week uses: password protection (``groupSettings``), the
authentication methods policy (Temporary Access Pass, Microsoft Authenticator, ``policyMigrationState``), the
authorization policy (``allowedToUseSSPR``: may administrators use SSPR) and whether the tenant syncs from
on-premises (``organization.onPremisesSyncEnabled``: where writeback and on-premises protection matter).

The posture (:data:`POSTURE_COLUMNS`) is one row per recommended setting: the recommendation, your value, since
when, where it was learnt (an audit event or the snapshot) and whether it is ``ok``, ``deviates`` or ``unknown``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import pandas as pd

from ..core.settings import AnalysisSettings
from ._util import iso, plain
from .policy_changes import PolicyChanges
from .prepare import ReviewData
from .sspr_settings import SETTINGS, WRITEBACK, Setting, meets, setting
from .window import ReviewWindow

__all__ = ["POSTURE_COLUMNS", "PolicyState", "hybrid_tenant", "policy_json", "policy_state", "typed_value"]

#: The posture table's columns.
POSTURE_COLUMNS: Final = (
    "setting", "label", "recommended", "yours", "since", "source", "status", "changed_by", "note"
)  # fmt: skip
#: Password protection's defaults when the tenant saved no "Password Rule Settings" object.
PASSWORD_DEFAULTS: Final[Mapping[str, str]] = {
    "EnableBannedPasswordCheck": "True",
    "BannedPasswordList": "",
    "BannedPasswordCheckOnPremisesMode": "Audit",
    "EnableBannedPasswordCheckOnPremises": "True",
}


@dataclass(frozen=True)
class PolicyState:
    """The SSPR configuration at ``end`` (see the module docstring).

    ``changes``: every change up to ``end``; ``week``: the week's changes and saves; ``sspr``: per setting name,
    ``{label, value, shown, as_of, changed_by, note}``; ``writeback``: ``{state, as_of, changed_by, note}``;
    ``hybrid``: the tenant syncs from on-premises (``None``: unknown); ``snapshot``: when the policy snapshot used
    was taken; ``posture``: :data:`POSTURE_COLUMNS`.
    """

    end: datetime
    history_start: datetime | None
    changes: pd.DataFrame
    week: PolicyChanges
    sspr: dict[str, dict[str, Any]]
    writeback: dict[str, Any]
    hybrid: bool | None
    snapshot: datetime | None
    posture: pd.DataFrame

    def deviations(self) -> pd.DataFrame:
        """The posture rows that deviate from the recommendation."""
        rows: pd.DataFrame = self.posture[self.posture["status"] == "deviates"].reset_index(drop=True)
        return rows


def typed_value(name: str, value: str | None) -> Any:
    """A canonical value as findings.json gives it: a number of methods or days as a number, the methods as a list,
    a switch as a boolean, other values as text; ``None`` stays ``None``.

    >>> typed_value("NumberOfRequiredContactMethodsForUsers", "2"), typed_value("NotifyUsersOfReset", "False")
    (2, False)
    """
    if value is None:
        return None
    kind = setting(name).type
    if kind in ("count", "days"):
        return int(value)
    if kind == "methods":
        return [m for m in value.split(",") if m]
    if kind == "flag":
        return value == "True"
    return value


def _no_change(history_start: datetime | None) -> str:
    if history_start is None:
        return "no change recorded: the store holds no audit events"
    return f"no change recorded since {history_start:%Y-%m-%d} (the store's first event)"


def _latest(changes: pd.DataFrame) -> pd.DataFrame:
    """The newest change of each setting."""
    return changes.sort_values("time", kind="stable").drop_duplicates("setting", keep="last").set_index("setting")


def _newest(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """The newest row of each setting, as a dictionary by setting."""
    rows = _latest(frame).reset_index().to_dict(orient="records")
    return {str(row["setting"]): {str(k): v for k, v in row.items()} for row in rows}


def _sspr(policy: PolicyChanges, history_start: datetime | None) -> dict[str, dict[str, Any]]:
    """Per setting: its value after the newest change, or, newer than any change, the value a save logged
    unchanged (``as_of`` is then that save; ``since`` and ``changed_by`` stay those of the change, if any)."""
    changes = policy.changes
    latest = _newest(changes[changes["setting"] != WRITEBACK])
    seen = _newest(policy.unchanged)
    names = [s.name for s in SETTINGS.values() if s.name != WRITEBACK]
    names += sorted((set(latest) | set(seen)) - set(names))
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        item = setting(name)
        entry = {"label": item.label, "value": None, "shown": None, "as_of": None, "since": None, "changed_by": None}
        out[name] = entry | {"note": _no_change(history_start)}
        change, save = latest.get(name), seen.get(name)
        if change is not None:
            readable = bool(change["new_parsed"])
            value = None if pd.isna(change["new"]) else str(change["new"])
            out[name] = entry | {
                "value": typed_value(name, value) if readable else None,
                "shown": str(change["new_shown"]),
                "as_of": iso(change["time"]),
                "since": iso(change["time"]),
                "changed_by": None if pd.isna(change["changed_by"]) else str(change["changed_by"]),
                "note": None if readable else f"the value logged could not be read: {change['new_raw']}",
            }
        if save is not None and (change is None or save["time"] > change["time"]):
            value = None if pd.isna(save["new"]) else str(save["new"])
            who = "" if pd.isna(save["changed_by"]) else f" by {save['changed_by']}"
            logged = f"logged unchanged in a save{who} on {pd.Timestamp(save['time']):%Y-%m-%d}"
            out[name] |= {
                "value": typed_value(name, value),
                "shown": str(save["new_shown"]),
                "as_of": iso(save["time"]),
                "note": logged if change is not None else f"{logged}; {out[name]['note']}",
            }
    return out


def _writeback(changes: pd.DataFrame, history_start: datetime | None) -> dict[str, Any]:
    latest = _latest(changes[changes["setting"] == WRITEBACK])
    if WRITEBACK not in latest.index:
        return {"state": "unknown", "as_of": None, "changed_by": None, "note": _no_change(history_start)}
    row = latest.loc[WRITEBACK]
    return {
        "state": str(row["new"]).lower(),
        "as_of": iso(row["time"]),
        "changed_by": None if pd.isna(row["changed_by"]) else str(row["changed_by"]),
        "note": None,
    }


def hybrid_tenant(snapshot: Mapping[str, Any] | None) -> bool | None:
    """The tenant syncs from on-premises: ``organization.onPremisesSyncEnabled`` (Graph's null: never synced)."""
    org = None if snapshot is None else snapshot.get("organization")
    if not isinstance(org, Mapping):
        return None
    return bool(org.get("onPremisesSyncEnabled"))


def _row(key: str, label: str, recommended: str, yours: str, ok: bool | None, **more: Any) -> dict[str, Any]:
    """A posture row; an unknown value's ``yours`` is "unknown" and its ``note`` says why."""
    status = "unknown" if ok is None else "ok" if ok else "deviates"
    row = {"setting": key, "label": label, "recommended": recommended, "yours": yours, "status": status}
    return row | {"note": None} | more


def _audit_rows(
    state: dict[str, dict[str, Any]], writeback: Mapping[str, Any], hybrid: bool | None, most: int
) -> list[dict[str, Any]]:
    rows = []
    for item in SETTINGS.values():
        if item.recommended is None:
            continue
        if item.name == WRITEBACK:
            rows.append(_writeback_row(item, writeback, hybrid))
            continue
        entry = state[item.name]
        value = _canonical_of(item, entry["value"])
        ok = meets(item, value, most) if entry["shown"] is not None else None
        yours = "unknown" if entry["shown"] is None else entry["shown"]
        recommended = item.recommended_text if item.type != "days" else f"{most} days or fewer"
        source = "audit event" if entry["as_of"] else None
        rows.append(
            _row(item.name, item.label, recommended, yours, ok, since=entry["since"], source=source)
            | {"changed_by": entry["changed_by"], "note": entry["note"]}
        )
    return rows


def _canonical_of(item: Setting, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(value)
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _writeback_row(item: Setting, writeback: Mapping[str, Any], hybrid: bool | None) -> dict[str, Any]:
    state = str(writeback["state"])
    more = {"since": writeback["as_of"], "source": "audit event" if writeback["as_of"] else None}
    more["changed_by"] = writeback["changed_by"]
    if hybrid is False:
        return _row(WRITEBACK, item.label, item.recommended_text, "not needed: no on-premises sync", True, **more)
    if state == "unknown":
        return _row(WRITEBACK, item.label, item.recommended_text, "unknown", None, note=writeback["note"], **more)
    return _row(WRITEBACK, item.label, item.recommended_text, state.capitalize(), state == "enabled", **more)


def _rule_values(snapshot: Mapping[str, Any]) -> dict[str, str] | None:
    """Password protection's values (its defaults where no object was saved); ``None`` when it was not read."""
    rules = snapshot.get("passwordRuleSettings")
    if not isinstance(rules, Mapping):
        return None if snapshot.get("passwordRuleSettingsError") else dict(PASSWORD_DEFAULTS)
    values = {str(v.get("name")): str(v.get("value") or "") for v in rules.get("values", []) if isinstance(v, Mapping)}
    return {**PASSWORD_DEFAULTS, **values}


#: The snapshot's rows: key, label, recommended.
_PROTECTION: Final = (
    ("BannedPasswordList", "Custom banned passwords", "Enabled, with your organisation's terms"),
    ("BannedPasswordCheckOnPremisesMode", "Password protection mode", "Enforce"),
    ("EnableBannedPasswordCheckOnPremises", "Password protection on Windows Server AD", "Yes (hybrid tenants)"),
)
_METHODS: Final = (
    ("TemporaryAccessPass", "Temporary Access Pass method", "Enabled (the helpdesk issues a pass, not a password)"),
    ("MicrosoftAuthenticator", "Microsoft Authenticator method", "Enabled"),
    ("policyMigrationState", "Authentication methods policy migration", "migrationComplete"),
)


def _unread(specs: tuple[tuple[str, str, str], ...], why: str) -> list[dict[str, Any]]:
    return [_row(key, label, recommended, "unknown", None, note=why) for key, label, recommended in specs]


def _protection_rows(values: dict[str, str] | None, hybrid: bool | None) -> list[dict[str, Any]]:
    if values is None:
        return _unread(_PROTECTION, "password protection settings not readable")
    terms = len(values["BannedPasswordList"].split()) if values["BannedPasswordList"].strip() else 0
    check = values["EnableBannedPasswordCheck"].lower() == "true"
    mode = values["BannedPasswordCheckOnPremisesMode"]
    on_premises = values["EnableBannedPasswordCheckOnPremises"].lower() == "true"
    found = (
        (f"{'enabled' if check else 'disabled'}, {terms} term{'s' if terms != 1 else ''}", check and terms > 0),
        (mode, mode.lower() == "enforce"),
        ("Yes" if on_premises else "No", on_premises),
    )
    rows = []
    for (key, label, recommended), (yours, ok) in zip(_PROTECTION, found, strict=True):
        if hybrid is False and key != "BannedPasswordList":  # on-premises rows: not needed without sync
            rows.append(_row(key, label, recommended, yours, True, note="no on-premises sync: not needed"))
        else:
            rows.append(_row(key, label, recommended, yours, ok))
    return rows


def _method_rows(methods: Any) -> list[dict[str, Any]]:
    if not isinstance(methods, Mapping):
        return _unread(_METHODS, "authentication methods policy not readable")
    states = {
        str(c.get("id", "")).lower(): str(c.get("state", ""))
        for c in methods.get("authenticationMethodConfigurations") or []
        if isinstance(c, Mapping)
    }
    rows = []
    for key, label, recommended in _METHODS[:2]:
        state = states.get(key.lower())
        ok = None if state is None else state == "enabled"
        rows.append(_row(key, label, recommended, state or "unknown", ok, note=None if state else "not configured"))
    migration = methods.get("policyMigrationState")
    key, label, recommended = _METHODS[2]
    ok = None if not migration else migration == "migrationComplete"
    rows.append(_row(key, label, recommended, str(migration or "unknown"), ok))
    return rows


def _admin_row(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    policy = snapshot.get("authorizationPolicy")
    label, recommended = "Administrators may use SSPR", "Yes (Microsoft's two-method administrator policy)"
    if not isinstance(policy, Mapping) or not isinstance(policy.get("allowedToUseSSPR"), bool):
        why = snapshot.get("authorizationPolicyError") or "authorization policy not read"
        return _row("allowedToUseSSPR", label, recommended, "unknown", None, note=str(why))
    allowed = bool(policy["allowedToUseSSPR"])
    return _row("allowedToUseSSPR", label, recommended, "Yes" if allowed else "No", allowed)


def _snapshot_rows(
    snapshot: Mapping[str, Any] | None, hybrid: bool | None, taken: datetime | None
) -> list[dict[str, Any]]:
    if snapshot is None:
        rows = [*_unread((*_PROTECTION, *_METHODS), "no policy snapshot"), _admin_row({})]
        return [r | {"source": None, "since": None, "changed_by": None, "note": "no policy snapshot"} for r in rows]
    rows = _protection_rows(_rule_values(snapshot), hybrid)
    rows += [*_method_rows(snapshot.get("authenticationMethodsPolicy")), _admin_row(snapshot)]
    return [r | {"source": "snapshot", "since": iso(taken), "changed_by": None} for r in rows]


def policy_state(
    data: ReviewData, window: ReviewWindow, settings: AnalysisSettings, history_start: datetime | None = None
) -> PolicyState:
    """The SSPR configuration at the end of ``window`` (see the module docstring); ``history_start``: when the
    store's audit events begin (for "no change recorded since")."""
    upto = data.policy.between(None, window.end)
    snapshot = data.policy_snapshot()
    hybrid = hybrid_tenant(snapshot)
    sspr = _sspr(upto, history_start)
    writeback = _writeback(upto.changes, history_start)
    taken = data.snapshots.get("policy") if snapshot is not None else None
    rows = _audit_rows(sspr, writeback, hybrid, settings.sspr_reconfirm_max_days) + _snapshot_rows(
        snapshot, hybrid, taken
    )
    posture = pd.DataFrame(rows, columns=list(POSTURE_COLUMNS)).astype("string")
    return PolicyState(
        end=window.end,
        history_start=history_start,
        changes=upto.changes,
        week=data.policy.between(window.start, window.end),
        sspr=sspr,
        writeback=writeback,
        hybrid=hybrid,
        snapshot=taken,
        posture=posture,
    )


def policy_json(state: PolicyState | None) -> dict[str, Any] | None:
    """findings.json's ``policy`` (see docs/findings-json.md); ``None`` without a state."""
    if state is None:
        return None
    doc: dict[str, Any] = plain(
        {
            "sspr": {
                name: {k: v for k, v in entry.items() if k in ("value", "as_of", "changed_by", "note")}
                for name, entry in state.sspr.items()
            },
            "writeback": dict(state.writeback),
            "hybrid": state.hybrid,
            "snapshot": iso(state.snapshot),
            "posture": [
                {k: (None if pd.isna(v) else str(v)) for k, v in row.items()}
                for row in state.posture.to_dict(orient="records")
            ],
            "week": state.week.counts(),
        }
    )
    return doc
