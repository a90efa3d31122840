"""The ``writeback_failure`` rule: on-premises password writeback failures, one finding per cause."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np

from ..core.labels import label
from ..core.reason_rules import WRITEBACK_END_STATES
from ..core.settings import AnalysisSettings
from ..core.wording import count, shorten
from ._util import (
    as_datetime,
    plain,
    take_rows,
    texts,
)
from .accounts import display_name, in_window
from .model import Finding, fingerprint
from .prepare import ReviewData
from .reasons import END_STATES
from .window import ReviewWindow

__all__ = ["WRITEBACK_CAUSES", "find_writeback_failures"]

#: The cause (and end state) of a reset or change Active Directory took and the cloud refused
#: (``OnPremisesSuccessCloudFailure``, logged as success): its own remedy, never a plain writeback failure.
CLOUD_REJECTED: Final = "cloud_password_rejected"


WRITEBACK_CAUSES: Final[Mapping[str, str]] = {
    "password is managed on-premises": "writeback_disabled",
    "could not reach your on-premises": "agent_unreachable",
    "onpremisesconnectivityerror": "agent_unreachable",
    "onpremisesadminactionrequired": "ad_refused",
    "onpremisesconnectivtyfailure": "agent_unreachable",  # sic, as a tenant logs it
    "on-premises operation result: changesuccess": "cloud_update_failed",
    "writebacknotenabled": "writeback_disabled",
}
_WRITEBACK_REMEDIES: Final[Mapping[str, str]] = {
    "writeback_disabled": "Password writeback is off for these users: enable it in Entra Connect (optional "
    "features) or Cloud Sync, or have them change their password on-premises.",
    "agent_unreachable": "The on-premises agent was unreachable: check that the Entra Connect server or Cloud Sync "
    "agent is running and can reach Microsoft (outbound 443), and its event log.",
    "ad_refused": "Active Directory refused the change: check the connector (AD DS) service account's Reset "
    "password, Change password and Write pwdLastSet/lockoutTime permissions on the users' OUs, protected accounts "
    "(adminCount=1) and the domain password policy (minimum age, history).",
    "cloud_update_failed": "The on-premises password changed but the cloud update failed: check the sync service "
    "logs on the Entra Connect server and ask the users to sign in with the new password once sync has run.",
    CLOUD_REJECTED: "Active Directory accepted the new password but Entra ID's cloud password policy or banned "
    "password list rejected it, so each user's on-premises and cloud passwords now differ: ask them to change their "
    "password again to one that meets the cloud policy (no banned words, at least 8 characters), and bring the "
    "on-premises policy in line (Microsoft Entra Password Protection for Active Directory applies the banned list "
    "on the domain controllers).",
}
_WRITEBACK_DEFAULT: Final = (
    "Check the Entra Connect (AD DS connector) service account's Reset password and Change password permissions on "
    "the users' OUs, and the Application event log (source PasswordResetService / ADSync) on the sync server."
)


def _title(cause: str, attempts: int, users: int, reasons: list[str]) -> str:
    """ "Password writeback failed 3 times for 2 users: the on-premises agent was unreachable"; for a cause the
    kit does not name, the first reason text, shortened at a word (the evidence keeps every text in full)."""
    if cause == CLOUD_REJECTED:
        return (
            f"The cloud refused the new password of {count(users, 'user')} after Active Directory took it: their"
            " on-premises and cloud passwords now differ"
        )
    what = label("writeback_cause", cause) if cause != "other" or not reasons else shorten(reasons[0], 90)
    return f"Password writeback failed {count(attempts, 'time')} for {count(users, 'user')}: {what}"


def find_writeback_failures(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> list[Finding]:
    """``writeback_failure`` (medium): on-premises writeback failures in the week, one finding per cause
    (:data:`WRITEBACK_CAUSES`, from the rule of ``result_reasons.csv`` that recognised the reason; ``other``
    for the rest; ``cloud_password_rejected`` for a password Active Directory took and the cloud refused, logged
    as success), listing the reason texts and the remedy."""
    events = data.events
    times = events["time"].to_numpy()
    codes = np.asarray(events["end_state"].cat.codes)
    failed = np.isin(codes, [END_STATES.index(s) for s in WRITEBACK_END_STATES])
    rows = np.flatnonzero(failed & in_window(times, window))
    if rows.size == 0:
        return []
    audit = data.audit
    frame = take_rows(audit, rows, ["user_id", "user_upn", "result_reason", "activity", "on_premises_agent"])
    rules = events["end_state_rule"].iloc[rows].astype("string").fillna("onpremises")
    by_rule = rules.map(dict(WRITEBACK_CAUSES)).fillna("other").astype(str).to_numpy()
    causes = np.where(codes[rows] == END_STATES.index(CLOUD_REJECTED), CLOUD_REJECTED, by_rule)
    frame = frame.reset_index(drop=True).assign(
        time=times[rows],
        flow=events["flow"].to_numpy()[rows] if "flow" in events else np.full(rows.size, -1),
        rule=rules.to_numpy(),
        cause=causes,
    )
    frame["shown"] = display_name(frame).to_numpy()
    out = []
    for cause, group in frame.groupby("cause", sort=True):
        users = sorted(set(group["shown"].astype(str)))
        reasons = texts(group["result_reason"].astype("string").str.strip())
        remedy = _WRITEBACK_REMEDIES.get(str(cause), _WRITEBACK_DEFAULT)
        flow = group["flow"].to_numpy()
        attempts = len(np.unique(flow[flow >= 0])) + int((flow < 0).sum())  # one per SSPR flow
        evidence = {
            "cause": str(cause),
            "rules": texts(group["rule"]),
            "reasons": reasons[:10],
            "attempts": attempts,
            "events": len(group),
            "users_count": len(users),
            "activities": texts(group["activity"]),
            "on_premises_agents": texts(group["on_premises_agent"]),
            "remedy": remedy,
        }
        out.append(
            Finding(
                kind="writeback_failure",
                severity="medium",
                title=_title(str(cause), attempts, len(users), reasons),
                users=tuple(users[: settings.max_users_listed]),
                start=as_datetime(int(group["time"].min())),
                end=as_datetime(int(group["time"].max())),
                evidence=plain(evidence),
                action=remedy + " Then ask the affected users to try again.",
                fingerprint=fingerprint("writeback_failure", cause),
            )
        )
    return out
