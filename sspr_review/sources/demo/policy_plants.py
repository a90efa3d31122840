"""The demo tenant's planted SSPR configuration changes (issue 23), in the review week, as Microsoft logs them.

Two Global Administrators change password reset: one weakens it (methods required 2 → 1 with security questions
added, in one save; the administrators' reset notification turned off; password writeback disabled), the other
makes a benign change (the helpdesk link) and a save that changed nothing. Microsoft's encoding is parsed
defensively by the kit, so the records mix the forms seen in public hunting queries: numbers and words as a JSON
string inside the string (``"\\"2\\""``), the methods as a JSON array, switches as bare words.

Drawn from a random stream of their own, with ids of their own, on accounts no other case or the background
resets, re-registers or flags in the day before: every other planted case and the background stay as they were.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

from .constants import MINUTE, ROLES, SSPR, Record, graph_time
from .generator import History, User
from .planted import PlantedUser

__all__ = ["plant_policy"]

METHODS_BEFORE = ["MobileAppNotification", "MobileAppCode", "Email", "MobileSMS"]
METHODS_AFTER = [*METHODS_BEFORE, "SecurityQuestions"]
#: The contact link before and after the benign change, on the tenant's own domain.
LINK_BEFORE, LINK_AFTER = "https://helpdesk.{domain}/sspr", "https://it.{domain}/password-help"


def _quoted(value: str) -> str:
    """A value as a JSON string inside the string (``"\\"2\\""``)."""
    return json.dumps(json.dumps(value))


def _prop(name: str, old: str, new: str) -> Record:
    return {"displayName": name, "oldValue": old, "newValue": new}


def _event(history: History, t: int, admin: User, activity: str, props: list[Record]) -> Record:
    """One policy event by ``admin`` at ``t`` (ticks), added to the history without touching its id sequence."""
    update = activity == "Update SSPR Settings"
    target = {
        "id": history.oid("sspr-policy" if update else "directory"),
        "displayName": "Self-service password reset policy" if update else history.domain,
        "type": "Policy" if update else "Directory",
        "userPrincipalName": None,
        "modifiedProperties": props,
    }
    corr = history.guid()
    record: Record = {
        "id": f"SSPR_{uuid.uuid5(history.ns, f'policy/{t}/{activity}')}",
        "category": "PolicyManagement" if update else "DirectoryManagement",
        "correlationId": corr,
        "result": "success",
        "resultReason": "",
        "activityDisplayName": activity,
        "activityDateTime": graph_time(t),
        "loggedByService": SSPR,
        "operationType": "Update",
        "initiatedBy": {"user": {**admin.ref(), "ipAddress": admin.ip}, "app": None},
        "targetResources": [target],
        "additionalDetails": [],
    }
    history.events.append((t, record))
    return record


def plant_policy(history: History, at: Any, found: dict[str, Any]) -> None:
    """10. SSPR configuration changes (see the module docstring); ``at(day, hour, minute)`` places a moment in the
    review week. Adds the planted ids and accounts to ``found``."""
    main, history.rng = history.rng, random.Random(f"{history.ns}/policy")
    try:
        admins = [u for role, _, u in history.assign if role == ROLES[0][0] and u is not None]
        weakener, other = admins[1], admins[2]  # admins[0] resets their own password this week
        benign = _event(
            history,
            at(0, 10, 20),
            other,
            "Update SSPR Settings",
            [
                _prop("CustomizeContactAdminLink", "True", "True"),
                _prop(
                    "CustomContactAdminLink",
                    _quoted(LINK_BEFORE.format(domain=history.domain)),
                    _quoted(LINK_AFTER.format(domain=history.domain)),
                ),
            ],
        )
        unchanged = _event(
            history,
            at(1, 11, 40),
            other,
            "Update SSPR Settings",
            [
                _prop("EnablementForUsers", _quoted("All"), _quoted("All")),
                _prop("NumberOfRequiredContactMethodsForUsers", _quoted("2"), _quoted("2")),
                _prop("NotifyUsersOfReset", "True", "True"),
            ],
        )
        t = at(2, 16, 5)
        weakening = _event(
            history,
            t,
            weakener,
            "Update SSPR Settings",
            [
                _prop("EnablementForUsers", _quoted("All"), _quoted("All")),
                _prop("NumberOfRequiredContactMethodsForUsers", _quoted("2"), _quoted("1")),
                _prop("SelectedContactMethodsForUsers", json.dumps(METHODS_BEFORE), json.dumps(METHODS_AFTER)),
            ],
        )
        notify = _event(
            history,
            t + history.rng.randrange(3, 6) * MINUTE,
            weakener,
            "Update SSPR Settings",
            [_prop("NotifyTenantAdminOfReset", "True", "False")],
        )
        off = _event(history, at(3, 18, 30), weakener, "Disable password writeback for directory", [])
    finally:
        history.rng = main
    found |= {
        "policy_admin": PlantedUser(weakener.id, weakener.upn, weakener.name),
        "policy_other_admin": PlantedUser(other.id, other.upn, other.name),
        "policy_weakening_id": weakening["id"],
        "policy_admin_notify_id": notify["id"],
        "policy_writeback_id": off["id"],
        "policy_benign_id": benign["id"],
        "policy_unchanged_id": unchanged["id"],
    }
