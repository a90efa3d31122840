"""Graph JSON records → the normalised tables of :mod:`sspr_review.core.schema`.

Normalisation never crashes on what Graph may send tomorrow: missing keys and nulls become ``<NA>``, unknown
activity names and enum values are kept as they are and flagged (``known_activity``, ``known_result``,
``known_enums``), and each call returns a :class:`Report` counting them. A record that cannot be stored is
never dropped without a word: it is returned in ``Report.rejected`` (a :class:`Rejected`, saying where it came
from and why) so the caller lists it and keeps it in the store's ``rejects/``. That is a record that is not a JSON
object, one nested too deep or holding text that is not valid Unicode, and an audit event or risk detection
whose time (``activityDateTime``, ``detectedDateTime``) is missing or unreadable, so it cannot be placed in
time.

Every returned frame also carries a ``raw`` column: the record as received, as JSON text, so the store keeps
the data losslessly and a later version of the kit can normalise it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import pandas as pd

from ..core import schema
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


#: Nesting deeper than this is not a Graph record (Graph's are under ten levels deep); it is rejected.
MAX_DEPTH: Final = 64
#: How many rejected records :meth:`Report.lines` names one by one (all are in ``rejects/``).
LISTED: Final = 10
#: The longest text of a rejected record kept in ``rejects/`` when it could not be read as JSON.
KEPT_TEXT: Final = 100_000


@dataclass(frozen=True)
class Rejected:
    """A record that was not stored: where it came from, why, and what was received.

    ``unreadable`` is false for a conflicting duplicate set aside in favour of another copy (a note, not an
    input error).
    """

    reason: str
    where: str = ""
    text: str = ""
    unreadable: bool = True

    def line(self) -> str:
        return f"{self.where}: {self.reason}" if self.where else self.reason

    def document(self) -> dict[str, Any]:
        """What ``rejects/*.jsonl`` keeps of it."""
        return {"where": self.where, "reason": self.reason, "received": self.text[:KEPT_TEXT]}


@dataclass
class Report:
    """What one normalisation saw: how many records, and how many were odd in which way."""

    records: int = 0
    unknown_activities: dict[str, int] = field(default_factory=dict)
    unknown_values: dict[str, int] = field(default_factory=dict)
    missing_id: int = 0
    bad_timestamps: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    identical_copies: int = 0

    @property
    def unreadable(self) -> list[Rejected]:
        """Rejected records that could not be read (input errors), without conflicting duplicates."""
        return [r for r in self.rejected if r.unreadable]

    def reject(self, reason: str, where: str = "", text: str = "", *, unreadable: bool = True) -> None:
        self.rejected.append(Rejected(reason, where, text, unreadable))

    def merge(self, other: Report) -> None:
        self.records += other.records
        for name, count in other.unknown_activities.items():
            self.unknown_activities[name] = self.unknown_activities.get(name, 0) + count
        for name, count in other.unknown_values.items():
            self.unknown_values[name] = self.unknown_values.get(name, 0) + count
        self.missing_id += other.missing_id
        self.bad_timestamps += other.bad_timestamps
        self.rejected.extend(other.rejected)
        self.identical_copies += other.identical_copies

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
        if self.identical_copies:
            out.append(f"{self.identical_copies} identical copies of records given more than once, stored once")
        for unreadable, what in (
            (True, "records not stored because they cannot be read"),  # "record" when one
            (False, "conflicting duplicates set aside"),
        ):
            items = [r for r in self.rejected if r.unreadable is unreadable]
            if items:
                more = f"; and {len(items) - LISTED} more" if len(items) > LISTED else ""
                listed = "; ".join(r.line() for r in items[:LISTED])
                if len(items) == 1:
                    what = what.replace("records", "record", 1).replace("duplicates", "duplicate")
                out.append(f"{len(items)} {what} (kept in the store's rejects/): {listed}{more}")
        return out


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def raw_json(record: Any) -> str:
    """The record as compact JSON text (how the store keeps it)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def safe_text(value: Any) -> str:
    """``value`` as JSON text for ``rejects/``, whatever it holds (lone surrogates escaped, too deep: a note)."""
    try:
        return json.dumps(value, ensure_ascii=True)
    except RecursionError:
        return "(not kept: nested too deep to write out)"
    except (TypeError, ValueError):
        return repr(value)[:KEPT_TEXT]


def unicode_problem(record: Mapping[str, Any]) -> str | None:
    """Why ``record`` cannot be stored as UTF-8 text (a lone surrogate, from a ``\\ud800`` escape), or ``None``."""
    for key, value in record.items():
        try:
            json.dumps({key: value}, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return f"field {key} holds text that is not valid Unicode (a lone surrogate such as \\ud800)"
    return None


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


def record_key(record: Mapping[str, Any]) -> str:
    """The id the store keys ``record`` by: its ``id``, else one derived from its content."""
    value = record.get("id")
    if isinstance(value, str) and value:
        return value
    return "sha1:" + hashlib.sha1(raw_json(record).encode("utf-8", "surrogatepass")).hexdigest()


def _record_id(record: Mapping[str, Any], report: Report) -> str:
    key = record_key(record)
    if key.startswith("sha1:") and key != record.get("id"):
        report.missing_id += 1
    return key


def _count(counter: dict[str, int], key: str) -> None:
    counter[key] = counter.get(key, 0) + 1


#: The time that places a row of a time-ranged table in the store, and the Graph property it comes from.
PLACED_BY: Final = {"audit": ("activity_time", "activityDateTime"), "risk": ("detected_time", "detectedDateTime")}


def time_problem(value: Any, name: str) -> str:
    """Why ``value`` of the Graph property ``name`` is no usable time."""
    if value is None or value == "":
        return f"{name} is missing or empty, so the record cannot be placed in time"
    shown = value if isinstance(value, str) else _text(value)
    return (
        f"{name} {str(shown)[:60]!r} is not a readable date and time "
        "(ISO 8601 such as 2026-11-16T08:30:00Z, years 1678 to 2261)"
    )


def parse_times(values: Sequence[Any]) -> pd.Series:
    """Graph time strings as UTC timestamps, exactly as normalisation reads them (unreadable: ``NaT``)."""
    return schema.utc_times(pd.Series([_text(v) for v in values], dtype=object))


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
        activity = _text(rec.get("activityDisplayName"))
        result = _text(rec.get("result"))
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
        cols["activity_time"].append(_text(rec.get("activityDateTime")))
        cols["service"].append(_text(rec.get("loggedByService")))
        cols["category"].append(_text(rec.get("category")))
        cols["activity"].append(activity)
        cols["operation_type"].append(_text(rec.get("operationType")))
        cols["result"].append(result)
        cols["result_reason"].append(_text(rec.get("resultReason")))
        cols["correlation_id"].append(_text(rec.get("correlationId")))
        cols["initiator_type"].append(initiator_type)
        cols["initiator_id"].append(_text(_get(user, "id") if user else _get(app, "servicePrincipalId")))
        cols["initiator_upn"].append(_text(_get(user, "userPrincipalName")))
        cols["initiator_name"].append(_text(_get(user, "displayName") if user else _get(app, "displayName")))
        cols["ip"].append(_text(_get(user, "ipAddress")) or None)
        cols["target_id"].append(_text(_get(target, "id")))
        cols["target_upn"].append(_text(_get(target, "userPrincipalName")))
        cols["target_name"].append(_text(_get(target, "displayName")))
        cols["user_id"].append(_text(_get(subject, "id")))
        cols["user_upn"].append(_text(_get(subject, "userPrincipalName")))
        cols["user_name"].append(_text(_get(subject, "displayName")))
        cols["on_premises_agent"].append(_text(details.get("OnPremisesAgent")))
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
        event_type = _text(rec.get("riskEventType"))
        if event_type is not None and event_type not in KNOWN_RISK_EVENT_TYPES:
            known = False
            _count(report.unknown_values, f"riskEventType={event_type}")
        info = rec.get("additionalInfo")
        if isinstance(info, str):
            with contextlib.suppress(ValueError):
                info = json.dumps(json.loads(info), ensure_ascii=False, sort_keys=True)
        cols["id"].append(_record_id(rec, report))
        cols["request_id"].append(_text(rec.get("requestId")))
        cols["correlation_id"].append(_text(rec.get("correlationId")))
        cols["risk_event_type"].append(event_type)
        cols["risk_state"].append(_text(rec.get("riskState")))
        cols["risk_level"].append(_text(rec.get("riskLevel")))
        cols["risk_detail"].append(_text(rec.get("riskDetail")))
        cols["source"].append(_text(rec.get("source")))
        cols["detection_timing_type"].append(_text(rec.get("detectionTimingType")))
        cols["activity"].append(_text(rec.get("activity")))
        cols["ip"].append(_text(rec.get("ipAddress")) or None)
        cols["city"].append(_text(_get(rec, "location", "city")))
        cols["state"].append(_text(_get(rec, "location", "state")))
        cols["country"].append(_text(_get(rec, "location", "countryOrRegion")))
        cols["activity_time"].append(_text(rec.get("activityDateTime")))
        cols["detected_time"].append(_text(rec.get("detectedDateTime")))
        cols["last_updated_time"].append(_text(rec.get("lastUpdatedDateTime")))
        cols["user_id"].append(_text(rec.get("userId")))
        cols["user_upn"].append(_text(rec.get("userPrincipalName")))
        cols["user_name"].append(_text(rec.get("userDisplayName")))
        cols["additional_info"].append(_text(info))
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
        cols["user_upn"].append(_text(rec.get("userPrincipalName")))
        cols["user_name"].append(_text(rec.get("userDisplayName")))
        cols["user_type"].append(_text(rec.get("userType")))
        for name in flags:
            value = rec.get(_camel(name))
            cols[name].append(value if isinstance(value, bool) else None)
        cols["methods_registered"].append(",".join(methods))
        cols["method_count"].append(len(methods))
        cols["last_updated_time"].append(_text(rec.get("lastUpdatedDateTime")))
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
            pid = _text(item.get("principalId")) or _text(_get(principal, "id"))
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
                    "user_upn": _text(_get(principal, "userPrincipalName")),
                    "user_name": _text(_get(principal, "displayName")),
                }
            )
            if pid and (ptype == "group" or pid in group_members):
                for member in group_members.get(pid, ()):
                    rows.append(
                        base
                        | {
                            "principal_id": _text(member.get("id")),
                            "principal_type": "user",
                            "user_upn": _text(member.get("userPrincipalName")),
                            "user_name": _text(member.get("displayName")),
                            "via_group_id": pid,
                            "via_group_name": _text(_get(principal, "displayName")),
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
