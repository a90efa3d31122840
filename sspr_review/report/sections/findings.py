"""The weekly review's finding tables, one section per family of findings: blocked users, leaked credentials,
account-takeover signals, administrator and helpdesk resets, password-writeback failures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from ...analysis.rules_leaked import leak_tally
from ...app.notebook import Context
from ...core.labels import LABELS, label
from ...core.wording import capitalised, count, words_list
from .. import numbers
from .contents import heading_id
from .render import note, section, table, when, with_names

if TYPE_CHECKING:
    from IPython.display import HTML

    from ...analysis import Finding


def of_kind(ctx: Context, *kinds: str) -> list[Finding]:
    return [f for f in ctx.review.findings if f.kind in kinds]


def not_evaluated(ctx: Context, kind: str) -> str | None:
    if kind in ctx.review.not_evaluated:
        return "Not evaluated this week: a source it needs is missing (see the coverage banner)."
    return None


def _one_table(frame: pd.DataFrame, empty: str) -> HTML:
    return section("tables.html.j2", parts=[{"table": table(frame, empty)}])


def _signal(name: str, value: Any) -> str:
    """A blocked user's signal in words, with its detail: "too few methods registered (1 of 2)"."""
    words = label("blocked_signal", name)
    if name == "too_few_methods" and isinstance(value, dict):
        return f"{words} ({value.get('registered')} of {value.get('needed')})"
    if name == "failed_methods_never_registered" and isinstance(value, list):
        return f"{words} ({words_list([label('method', m) for m in value])})"
    if name == "ip_used_for_other_accounts" and isinstance(value, dict):
        tried = [f"{ip}: {count(int(v.get('other_accounts', 0)), 'other')}" for ip, v in value.items()]
        return f"{words} ({'; '.join(tried)})"
    if name == "recent_risk_detections" and isinstance(value, list):
        types = words_list(sorted({label("risk_type", d.get("risk_event_type")) for d in value if isinstance(d, dict)}))
        return f"{words} ({types})" if types else words
    if name == "configuration_failures" and isinstance(value, int):
        return f"{words} ({count(value, 'attempt')})"
    return words


def blocked_users(ctx: Context) -> HTML:
    """Users blocked from SSPR this week, with the assessment and its signals, in words."""
    gap = not_evaluated(ctx, "blocked_user")
    if gap:
        return note(gap)
    tz = ctx.review.window.timezone
    rows = [
        {
            "user": f.users[0] if f.users else "",
            "assessment": label("assessment", f.evidence.get("assessment", "")),
            "blocked": when(f.evidence.get("last_blocked"), tz),
            "IPs": ", ".join(map(str, f.evidence.get("ips", []))),
            "signals": "; ".join(
                _signal(name, value)
                for signals in (f.evidence.get("attack_signals") or {}, f.evidence.get("registration_signals") or {})
                for name, value in signals.items()
            ),
        }
        for f in of_kind(ctx, "blocked_user")
    ]
    frame = with_names(ctx, pd.DataFrame(rows), "user")
    return _one_table(frame, "No user was blocked from SSPR this week.")


def leaked_credentials(ctx: Context) -> HTML:
    """Leaked-credentials detections: remediated by the user (and how fast) and not remediated."""
    gap = not_evaluated(ctx, "leaked_credentials_unremediated")
    if gap:
        return note(gap)
    tz = ctx.review.window.timezone
    rows = []
    for f in of_kind(ctx, "leaked_credentials_unremediated", "leaked_credentials_remediated"):
        fixed = f.kind == "leaked_credentials_remediated"
        hours = f.evidence.get("hours_to_remediate")
        rows.append(
            {
                "user": f.users[0] if f.users else "",
                "detected": when(f.evidence.get("detected"), tz),
                "status": "remediated by the user" if fixed else "NOT remediated",
                "time to remediate": numbers.hours(hours, " h") if isinstance(hours, int | float) else "—",
                "age (days)": "" if fixed else f.evidence.get("age_days", ""),
                "risk state": label("risk_state", f.evidence.get("risk_state")),
            }
        )
    frame = with_names(ctx, pd.DataFrame(rows), "user")
    return section(
        "leaked_credentials.html.j2",
        **_leak_reconciled(ctx),
        risk=f"#{heading_id('Risk detections and password resets')}",
        table=table(frame, "No leaked-credentials detections to report this week."),
    )


def _leak_reconciled(ctx: Context) -> dict[str, str]:
    """How the table's rows relate to the week's detections, which the risk table counts: the words of the
    template's sentence (empty without the review's tables)."""
    data = ctx.review.data
    if data is None:
        return {"detected": "", "parts": "", "earlier": ""}
    t = leak_tally(data, ctx.review.window, ctx.review.settings)
    days = count(ctx.review.settings.leak_grace_days, "day")
    parts = [
        f"{t['fixed']} fixed by the user",
        f"{t['open']} not fixed",
        *([f"{t['recent']} too recent to judge (under {days} old, not listed)"] if t["recent"] else []),
        *(
            [f"{t['closed']} closed without a password change by an administrator or Identity Protection (not listed)"]
            if t["closed"]
            else []
        ),
    ]
    earlier = count(t["earlier_open"], "detection") if t["earlier_open"] else ""
    return {
        "detected": count(t["detected"], "leaked-credentials detection"),
        "parts": words_list(parts),
        "earlier": earlier,
    }


def _method(name: Any) -> str:
    """A method in words, an SSPR gate (``app_code``) or a registered method (``microsoftAuthenticatorPush``)."""
    return label("method" if str(name) in LABELS["method"] else "registered_method", name)


def _reset_text(reset: dict[str, Any], tz: str) -> str:
    verified = reset.get("methods_verified")
    return (
        f"{when(reset.get('time'), tz)} · {label('reset_type', reset.get('type', ''))} by "
        f"{reset.get('initiator') or '—'} from {', '.join(map(str, reset.get('ips') or [])) or 'no IP'}"
        + (f" · verified by {words_list([_method(m) for m in verified])}" if verified else "")
    )


def _change_text(change: dict[str, Any], tz: str) -> str:
    return (
        f"{when(change.get('time'), tz)} {change.get('activity')}"
        + (f" ({change.get('method')})" if change.get("method") else "")
        + f" from {change.get('ip') or 'no IP'}"
        + (" — IP not used by the reset" if change.get("ip_used_by_reset") is False else "")
    )


def _takeover_row(ctx: Context, f: Finding) -> dict[str, Any]:
    tz = ctx.review.window.timezone
    ev = f.evidence
    row = {
        "severity": f.severity,
        "user": f.users[0] if f.users else "",
        "reset": _reset_text(ev.get("reset") or {}, tz),
        "vs last week": ctx.review.status(f) or "",
    }
    if f.kind == "security_info_changed_after_reset":
        row["changes"] = "; ".join(_change_text(c, tz) for c in ev.get("changes", []))
        row["first change after"] = f"{ev.get('minutes_to_first_change')} min"
        row["why this severity"] = ev.get("severity_reason", "")
    else:
        earlier = [f"{e.get('ip')} (last {when(e.get('last_seen'), tz)})" for e in ev.get("earlier_ips", [])]
        row["gates"] = ", ".join(_method(g) for g in ev.get("gates", []))
        row["new IP"] = ", ".join(map(str, ev.get("new_ips", [])))
        row["earlier IPs"] = "; ".join(earlier)
        methods = [*ev.get("non_phone_methods_used_before", []), *(ev.get("non_phone_methods_registered") or [])]
        row["non-phone methods"] = ", ".join(dict.fromkeys(_method(m) for m in methods)) or "none known"
    return row


#: The two takeover kinds: (kind, heading, what an empty table says).
TAKEOVER_KINDS = (
    (
        "security_info_changed_after_reset",
        "Security info changed after a password reset",
        "No security-info change followed a password reset this week.",
    ),
    (
        "phone_only_reset_new_ip",
        "Phone-only resets from a new IP address",
        "No phone-only reset came from a new IP address this week.",
    ),
)


def takeover_signals(ctx: Context) -> HTML:
    """Security info changed soon after a password reset, and phone-only resets from a new IP address."""
    parts = []
    for kind, heading, empty in TAKEOVER_KINDS:
        gap = not_evaluated(ctx, kind)
        frame = None if gap else pd.DataFrame([_takeover_row(ctx, f) for f in of_kind(ctx, kind)])
        shown = "" if frame is None else table(with_names(ctx, frame, "user"), empty)
        parts.append({"heading": heading, "gap": gap, "table": shown})
    counts = ctx.review.not_judged.get("phone_only_reset_new_ip")
    not_judged = (
        None
        if counts is None
        else {
            "resets": count(int(counts.get("resets", 0)), "other phone-only reset"),
            "users": count(int(counts.get("users", 0)), "user"),
        }
    )
    return section(
        "takeover_signals.html.j2",
        parts=parts,
        not_judged=not_judged,
        days=ctx.review.settings.new_ip_lookback_days,
    )


def admin_resets(ctx: Context) -> HTML:
    """Password resets of privileged role holders."""
    gap = not_evaluated(ctx, "admin_password_reset")
    if gap:
        return note(gap)
    rows = [
        {
            "administrator": f.users[0] if f.users else "",
            "roles": ", ".join(map(str, f.evidence.get("roles", []))),
            "via group": ", ".join(map(str, f.evidence.get("via_groups", []))),
            "reset by": ", ".join(map(str, f.evidence.get("initiators", []))),
            "IPs": ", ".join(map(str, f.evidence.get("ips", []))),
            "when": when(f.start, ctx.review.window.timezone),
        }
        for f in of_kind(ctx, "admin_password_reset")
    ]
    frame = with_names(ctx, pd.DataFrame(rows), "administrator")
    return _one_table(frame, "No administrator's password was reset this week.")


def helpdesk_resets(ctx: Context) -> HTML:
    """Helpdesk resets of non-privileged users, against Temporary Access Passes issued."""
    rows = [
        {
            "user": f.users[0] if f.users else "",
            "reset by": ", ".join(map(str, f.evidence.get("initiators", []))),
            "when": when(f.start, ctx.review.window.timezone),
            "TAP issued": "yes" if f.evidence.get("tap_issued") else "no",
            "vs last week": ctx.review.status(f) or "",
        }
        for f in of_kind(ctx, "helpdesk_reset")
    ]
    taps = ctx.review.metrics.get("taps_issued")
    frame = with_names(ctx, pd.DataFrame(rows), "user")
    return section(
        "helpdesk_resets.html.j2",
        taps=numbers.number(taps.value, missing="no data") if taps else "no data",
        reconciled=_helpdesk_reconciled(ctx),
        admins=f"#{heading_id('Administrator password resets')}",
        table=table(frame, "No helpdesk resets this week."),
    )


def _helpdesk_reconciled(ctx: Context) -> dict[str, str] | None:
    """How the tile's helpdesk resets divide: those of users (listed here) and those of administrators' accounts
    (under Administrator password resets); ``None`` when they do not add up that way (then the table stands
    alone)."""
    metric = ctx.review.metrics.get("helpdesk_resets")
    if metric is None or metric.value is None:
        return None
    users = sum(len(f.evidence.get("resets", [])) for f in of_kind(ctx, "helpdesk_reset"))
    admins = sum(
        1
        for f in of_kind(ctx, "admin_password_reset")
        for reset in f.evidence.get("resets", [])
        if isinstance(reset, dict) and reset.get("type") == "admin"
    )
    if users + admins != metric.value or not admins:
        return None
    return {
        "total": count(int(metric.value), "helpdesk reset"),
        "users": count(users, "reset") + " of users",
        "admins": count(admins, "reset") + " of an administrator's account"
        if admins == 1
        else count(admins, "reset") + " of administrators' accounts",
    }


def writeback_failures(ctx: Context) -> HTML:
    rows = [
        {
            "cause": capitalised(label("writeback_cause", f.evidence.get("cause", ""))),
            "attempts": f.evidence.get("attempts", ""),
            "users": len(f.users),
            "reasons": "; ".join(map(str, f.evidence.get("reasons", []))),
            "remedy": f.evidence.get("remedy", f.action),
        }
        for f in of_kind(ctx, "writeback_failure")
    ]
    return _one_table(pd.DataFrame(rows), "No password-writeback failures this week.")
