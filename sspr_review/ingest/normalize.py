"""Graph JSON records → the normalised tables of :mod:`sspr_review.core.schema`.

Normalisation never crashes on what Graph may send tomorrow: missing keys and nulls become ``<NA>``, unknown
activity names and enum values are kept as they are and flagged (``known_activity``, ``known_result``,
``known_enums``), and each call returns a :class:`Report` counting them. A record that cannot be stored is
never dropped without a word: it is returned in ``Report.rejected`` (a
:class:`~sspr_review.core.records.Rejected`, saying where it came from and why) so the caller lists it and keeps
it in the store's ``rejects/``. That is a record that is not a JSON object, one nested too deep or holding text
that is not valid Unicode, and an audit event or risk detection whose time (``activityDateTime``,
``detectedDateTime``) is missing or unreadable, so it cannot be placed in time.

Every returned frame also carries a ``raw`` column: the record as received, as JSON text, so the store keeps
the data losslessly and a later version of the kit can normalise it again.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import pandas as pd

from ..core import schema
from ..core.records import SetAside, as_text, raw_json, record_key, safe_text, time_problem, unicode_problem
from ..core.vocabulary import KNOWN_ACTIVITIES

KNOWN_RESULTS: Final = frozenset({"success", "failure", "timeout"})
RISK_ENUMS: Final[Mapping[str, frozenset[str]]] = {
    "riskState": frozenset({"none", "confirmedSafe", "remediated", "dismissed", "atRisk", "confirmedCompromised"}),
    "riskLevel": frozenset({"low", "medium", "high", "hidden", "none"}),
    "detectionTimingType": frozenset({"notDefined", "realtime", "nearRealtime", "offline"}),
    "activity": frozenset({"signin", "user", "servicePrincipal"}),
}
KNOWN_RISK_EVENT_TYPES: Final = frozenset(
    {
        "adminConfirmedUserCompromised",
        "anomalousToken",
        "anomalousUserActivity",
        "anonymizedIPAddress",
        "attackerinTheMiddle",
        "attemptedPrtAccess",
        "generic",
        "investigationsThreatIntelligence",
        "investigationsThreatIntelligenceSigninLinked",
        "leakedCredentials",
        "maliciousIPAddress",
        "maliciousIPAddressValidCredentialsBlockedIP",
        "mcasFinSuspiciousFileAccess",
        "mcasImpossibleTravel",
        "mcasSuspiciousInboxManipulationRules",
        "nationStateIP",
        "newCountry",
        "passwordSpray",
        "riskyIPAddress",
        "suspiciousAPITraffic",
        "suspiciousBrowser",
        "suspiciousInboxForwarding",
        "suspiciousIPAddress",
        "suspiciousSendingPatterns",
        "tokenIssuerAnomaly",
        "unfamiliarFeatures",
        "unlikelyTravel",
        "userReportedSuspiciousActivity",
    }
)


@dataclass
class Report(SetAside):
    """What one normalisation saw: how many records, how many were odd in which way, and what was set aside."""

    records: int = 0
    unknown_activities: dict[str, int] = field(default_factory=dict)
    unknown_values: dict[str, int] = field(default_factory=dict)
    missing_id: int = 0
    bad_timestamps: int = 0

    def merge(self, other: SetAside) -> None:
        """Add ``other``'s counts (a :class:`Report`) and what it set aside (any :class:`SetAside`)."""
        super().merge(other)
        if not isinstance(other, Report):
            return
        self.records += other.records
        for name, count in other.unknown_activities.items():
            self.unknown_activities[name] = self.unknown_activities.get(name, 0) + count
        for name, count in other.unknown_values.items():
            self.unknown_values[name] = self.unknown_values.get(name, 0) + count
        self.missing_id += other.missing_id
        self.bad_timestamps += other.bad_timestamps

    def lines(self) -> list[str]:
        """Human-readable notes, empty when nothing was odd."""
        out = []
        if self.unknown_activities:
            names = ", ".join(f"{n!r} ({c})" for n, c in sorted(self.unknown_activities.items()))
            out.append(f"activities the kit does not know, kept as they are: {names}")
        if self.unknown_values:
            vals = ", ".join(f"{n} ({c})" for n, c in sorted(self.unknown_values.items()))
            out.append(f"enum values the kit does not know, kept as they are: {vals}")
        if self.missing_id:
            out.append(f"{self.missing_id} records without an id (given one derived from their content)")
        if self.bad_timestamps:
            out.append(f"{self.bad_timestamps} records with a missing or unreadable timestamp")
        return out + super().lines()


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _split(records: Iterable[Any], report: Report, table: str) -> list[tuple[Mapping[str, Any], str]]:
    """The records that are JSON objects, each with its ``raw`` text; the others go to ``report.rejected``."""
    good = []
    for record in records:
        report.records += 1
        if not isinstance(record, Mapping):
            report.reject(f"not a JSON object (a {type(record).__name__})", f"{table} record", safe_text(record))
            continue
        where = f"{table} record {record.get('id')!r}" if record.get("id") is not None else f"{table} record"
        try:
            text = raw_json(record)
            if not text.isascii():
                text.encode("utf-8")
        except RecursionError:
            report.reject("nested too deep to write out (Graph records are under ten levels deep)", where)
            continue
        except UnicodeEncodeError:
            report.reject(unicode_problem(record) or "holds text that is not valid Unicode", where, safe_text(record))
            continue
        except (TypeError, ValueError) as exc:
            report.reject(f"cannot be written as JSON ({exc})", where, safe_text(record))
            continue
        good.append((record, text))
    return good


def _record_id(record: Mapping[str, Any], report: Report) -> str:
    key = record_key(record)
    if key.startswith("sha1:") and key != record.get("id"):
        report.missing_id += 1
    return key


def _count(counter: dict[str, int], key: str) -> None:
    counter[key] = counter.get(key, 0) + 1


#: The time that places a row of a time-ranged table in the store, and the Graph property it comes from.
PLACED_BY: Final = {"audit": ("activity_time", "activityDateTime"), "risk": ("detected_time", "detectedDateTime")}


def _frame(rows: dict[str, list[Any]], table: str, raw: list[str], report: Report, ts: Sequence[str]) -> pd.DataFrame:
    frame = schema.conform(pd.DataFrame(rows), table)
    frame["raw"] = pd.Series(raw, dtype="string")
    placed = PLACED_BY.get(table)
    if placed is not None and len(frame):
        col, name = placed
        unplaced = frame[col].isna().to_numpy()
        if unplaced.any():
            for i in unplaced.nonzero()[0]:
                report.reject(time_problem(rows[col][i], name), f"{table} record {frame['id'].iloc[i]!r}", raw[i])
            frame = frame[~unplaced].reset_index(drop=True)
            rows = {k: [v for v, bad in zip(vals, unplaced, strict=True) if not bad] for k, vals in rows.items()}
    for col in ts:
        if placed is not None and col == placed[0]:
            continue
        given = pd.Series(rows.get(col, [None] * len(frame))).notna().to_numpy()
        report.bad_timestamps += int((frame[col].isna().to_numpy() & given).sum())
    return frame


def audit(records: Iterable[Any]) -> tuple[pd.DataFrame, Report]:
    """Normalise directoryAudit records (see :data:`sspr_review.core.schema.AUDIT`)."""
    report = Report()
    good = _split(records, report, "audit")
    cols: dict[str, list[Any]] = {name: [] for name in schema.AUDIT}
    raw: list[str] = []
    for rec, text in good:
        user = _get(rec, "initiatedBy", "user")
        app = _get(rec, "initiatedBy", "app")
        targets = rec.get("targetResources")
        targets = [t for t in targets if isinstance(t, Mapping)] if isinstance(targets, list) else []
        target = next((t for t in targets if str(t.get("type", "")).lower() == "user"), None) or (
            targets[0] if targets else None
        )
        details_list = rec.get("additionalDetails")
        details = (
            {str(d.get("key")): d.get("value") for d in details_list if isinstance(d, Mapping)}
            if isinstance(details_list, list)
            else {}
        )
        activity = as_text(rec.get("activityDisplayName"))
        result = as_text(rec.get("result"))
        known_activity = activity is not None and activity.lower() in KNOWN_ACTIVITIES
        if not known_activity:
            _count(report.unknown_activities, activity or "<missing>")
        known_result = result in KNOWN_RESULTS
        if not known_result:
            _count(report.unknown_values, f"result={result}")
        initiator_type = "user" if isinstance(user, Mapping) else "app" if isinstance(app, Mapping) else None
        target_user = target if target is not None and str(target.get("type", "")).lower() == "user" else None
        subject = target_user if target_user is not None else user if isinstance(user, Mapping) else None
        cols["id"].append(_record_id(rec, report))
        cols["activity_time"].append(as_text(rec.get("activityDateTime")))
        cols["service"].append(as_text(rec.get("loggedByService")))
        cols["category"].append(as_text(rec.get("category")))
        cols["activity"].append(activity)
        cols["operation_type"].append(as_text(rec.get("operationType")))
        cols["result"].append(result)
        cols["result_reason"].append(as_text(rec.get("resultReason")))
        cols["correlation_id"].append(as_text(rec.get("correlationId")))
        cols["initiator_type"].append(initiator_type)
        cols["initiator_id"].append(as_text(_get(user, "id") if user else _get(app, "servicePrincipalId")))
        cols["initiator_upn"].append(as_text(_get(user, "userPrincipalName")))
        cols["initiator_name"].append(as_text(_get(user, "displayName") if user else _get(app, "displayName")))
        cols["ip"].append(as_text(_get(user, "ipAddress")) or None)
        cols["target_id"].append(as_text(_get(target, "id")))
        cols["target_upn"].append(as_text(_get(target, "userPrincipalName")))
        cols["target_name"].append(as_text(_get(target, "displayName")))
        cols["user_id"].append(as_text(_get(subject, "id")))
        cols["user_upn"].append(as_text(_get(subject, "userPrincipalName")))
        cols["user_name"].append(as_text(_get(subject, "displayName")))
        cols["on_premises_agent"].append(as_text(details.get("OnPremisesAgent")))
        cols["additional_details"].append(json.dumps(details, ensure_ascii=False, sort_keys=True) if details else None)
        cols["known_activity"].append(known_activity)
        cols["known_result"].append(known_result)
        raw.append(text)
    return _frame(cols, "audit", raw, report, ["activity_time"]), report


def risk(records: Iterable[Any]) -> tuple[pd.DataFrame, Report]:
    """Normalise riskDetection records (see :data:`sspr_review.core.schema.RISK`)."""
    report = Report()
    good = _split(records, report, "risk")
    cols: dict[str, list[Any]] = {name: [] for name in schema.RISK}
    raw: list[str] = []
    for rec, text in good:
        known = True
        for key, allowed in RISK_ENUMS.items():
            value = rec.get(key)
            if value is not None and value not in allowed:
                known = False
                _count(report.unknown_values, f"{key}={value}")
        event_type = as_text(rec.get("riskEventType"))
        if event_type is not None and event_type not in KNOWN_RISK_EVENT_TYPES:
            known = False
            _count(report.unknown_values, f"riskEventType={event_type}")
        info = rec.get("additionalInfo")
        if isinstance(info, str):
            with contextlib.suppress(ValueError):
                info = json.dumps(json.loads(info), ensure_ascii=False, sort_keys=True)
        cols["id"].append(_record_id(rec, report))
        cols["request_id"].append(as_text(rec.get("requestId")))
        cols["correlation_id"].append(as_text(rec.get("correlationId")))
        cols["risk_event_type"].append(event_type)
        cols["risk_state"].append(as_text(rec.get("riskState")))
        cols["risk_level"].append(as_text(rec.get("riskLevel")))
        cols["risk_detail"].append(as_text(rec.get("riskDetail")))
        cols["source"].append(as_text(rec.get("source")))
        cols["detection_timing_type"].append(as_text(rec.get("detectionTimingType")))
        cols["activity"].append(as_text(rec.get("activity")))
        cols["ip"].append(as_text(rec.get("ipAddress")) or None)
        cols["city"].append(as_text(_get(rec, "location", "city")))
        cols["state"].append(as_text(_get(rec, "location", "state")))
        cols["country"].append(as_text(_get(rec, "location", "countryOrRegion")))
        cols["activity_time"].append(as_text(rec.get("activityDateTime")))
        cols["detected_time"].append(as_text(rec.get("detectedDateTime")))
        cols["last_updated_time"].append(as_text(rec.get("lastUpdatedDateTime")))
        cols["user_id"].append(as_text(rec.get("userId")))
        cols["user_upn"].append(as_text(rec.get("userPrincipalName")))
        cols["user_name"].append(as_text(rec.get("userDisplayName")))
        cols["additional_info"].append(as_text(info))
        cols["known_enums"].append(known)
        raw.append(text)
    return _frame(cols, "risk", raw, report, ["detected_time", "last_updated_time"]), report


def registration(records: Iterable[Any], snapshot_date: datetime) -> tuple[pd.DataFrame, Report]:
    """Normalise one userRegistrationDetails snapshot taken on ``snapshot_date`` (UTC day)."""
    report = Report()
    good = _split(records, report, "registration")
    day = pd.Timestamp(snapshot_date).tz_convert("UTC").normalize()
    flags = [name for name, dtype in schema.REGISTRATION.items() if dtype == schema.BOOL]
    cols: dict[str, list[Any]] = {name: [] for name in schema.REGISTRATION}
    raw: list[str] = []
    for rec, text in good:
        methods = rec.get("methodsRegistered")
        methods = sorted(str(m) for m in methods) if isinstance(methods, list) else []
        cols["snapshot_date"].append(day)
        cols["user_id"].append(_record_id(rec, report))
        cols["user_upn"].append(as_text(rec.get("userPrincipalName")))
        cols["user_name"].append(as_text(rec.get("userDisplayName")))
        cols["user_type"].append(as_text(rec.get("userType")))
        for name in flags:
            value = rec.get(_camel(name))
            cols[name].append(value if isinstance(value, bool) else None)
        cols["methods_registered"].append(",".join(methods))
        cols["method_count"].append(len(methods))
        cols["last_updated_time"].append(as_text(rec.get("lastUpdatedDateTime")))
        raw.append(text)
    return _frame(cols, "registration", raw, report, ["last_updated_time"]), report


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def _principal_type(principal: Mapping[str, Any] | None) -> str | None:
    odata = str(_get(principal, "@odata.type") or "")
    return odata.rsplit(".", 1)[-1] if odata else None


def privileged(
    definitions: Iterable[Mapping[str, Any]],
    assignments: Iterable[Mapping[str, Any]],
    eligibility: Iterable[Mapping[str, Any]],
    group_members: Mapping[str, Sequence[Mapping[str, Any]]],
    snapshot_date: datetime,
    *,
    users: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Privileged principals from role definitions, active assignments and PIM eligibility.

    Group-assigned roles give one row for the group and one per (transitive) user member, with
    ``via_group_*`` set. ``users`` (a registration frame) fills in UPNs of principals that were not expanded.
    """
    day = pd.Timestamp(snapshot_date).tz_convert("UTC").normalize()
    names = {str(d.get("id")): d.get("displayName") for d in definitions}
    names.update({str(d.get("templateId")): d.get("displayName") for d in definitions if d.get("templateId")})
    rows: list[dict[str, Any]] = []
    for kind, items in (("active", assignments), ("eligible", eligibility)):
        for item in items:
            role_id = str(item.get("roleDefinitionId"))
            principal = item.get("principal") if isinstance(item.get("principal"), Mapping) else None
            pid = as_text(item.get("principalId")) or as_text(_get(principal, "id"))
            ptype = _principal_type(principal)
            base = {
                "snapshot_date": day,
                "role_id": role_id,
                "role_name": names.get(role_id),
                "assignment": kind,
            }
            rows.append(
                base
                | {
                    "principal_id": pid,
                    "principal_type": ptype,
                    "user_upn": as_text(_get(principal, "userPrincipalName")),
                    "user_name": as_text(_get(principal, "displayName")),
                }
            )
            if pid and (ptype == "group" or pid in group_members):
                for member in group_members.get(pid, ()):
                    rows.append(
                        base
                        | {
                            "principal_id": as_text(member.get("id")),
                            "principal_type": "user",
                            "user_upn": as_text(member.get("userPrincipalName")),
                            "user_name": as_text(member.get("displayName")),
                            "via_group_id": pid,
                            "via_group_name": as_text(_get(principal, "displayName")),
                        }
                    )
    frame = schema.conform(pd.DataFrame(rows), "privileged")
    if users is not None and not users.empty and not frame.empty:
        lookup = users.drop_duplicates("user_id").set_index("user_id")
        missing = frame["user_upn"].isna()
        frame.loc[missing, "user_upn"] = frame.loc[missing, "principal_id"].map(lookup["user_upn"])
        missing_name = frame["user_name"].isna()
        frame.loc[missing_name, "user_name"] = frame.loc[missing_name, "principal_id"].map(lookup["user_name"])
        unknown_type = frame["principal_type"].isna() & frame["principal_id"].isin(lookup.index)
        frame.loc[unknown_type, "principal_type"] = "user"
    return frame


def privileged_from_flags(users: pd.DataFrame, snapshot_date: datetime) -> pd.DataFrame:
    """Fallback when role assignments cannot be read: users the registration report flags ``isAdmin``."""
    admins = users[users["is_admin"].fillna(False).astype(bool)]
    frame = pd.DataFrame(
        {
            "snapshot_date": pd.Timestamp(snapshot_date).tz_convert("UTC").normalize(),
            "principal_id": admins["user_id"],
            "principal_type": "user",
            "user_upn": admins["user_upn"],
            "user_name": admins["user_name"],
            "role_name": "(an administrator role; roles not readable)",
            "assignment": "isAdmin",
        }
    )
    return schema.conform(frame, "privileged")
