"""The demo tenant's history: its users, the audit records of a normal rhythm (password-expiry-driven changes and
self-service resets with weekday peaks, registration campaigns, a few helpdesk resets, risk detections), and the
record builders the planted cases of :mod:`.plants` use. Deterministic: everything is drawn from one seeded
random stream, in a fixed order."""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .constants import (
    ADMIN_METHODS,
    ADMIN_RESET,
    AUTH_METHODS,
    BLOCK_REASON,
    BLOCKED,
    CORE,
    CORE_RESET,
    DAY,
    DAY_WEIGHTS,
    DOMAIN,
    FIRST,
    FLOW_ENDINGS,
    HOME_IPS,
    HOSTILE_NAME,
    HOUR,
    HOUR_CUM,
    HOURS,
    LAST,
    METHOD_SETS,
    METHODS,
    MINUTE,
    OFFICE_IPS,
    PARTNERS,
    PLACES,
    PROGRESS,
    RISK_TYPES,
    ROLE_LAYOUT,
    ROLES,
    SECOND,
    SSPR,
    SSPR_CHANGE,
    SSPR_RESET,
    TAP_REASON,
    UNLOCK,
    USER_AGENTS,
    WEEK,
    Record,
    as_ticks,
    graph_time,
)

__all__ = ["History", "Risk", "User"]


@dataclass(slots=True)
class User:
    index: int
    id: str
    upn: str
    name: str
    guest: bool
    ip: str
    offset: int  # day of the 90-day password-expiry cycle
    reg: int | None  # ticks of the SSPR registration (None: never registers)
    methods: tuple[str, ...]  # methodsRegistered once registered
    before: tuple[str, ...]  # methodsRegistered before that
    admin: bool = False
    reserved: bool = False  # a planted user: no background activity
    _target: list[Record] | None = None

    def ref(self) -> Record:
        return {"id": self.id, "displayName": self.name, "userPrincipalName": self.upn}

    def target(self) -> list[Record]:
        if self._target is None:
            self._target = [
                {
                    "id": self.id,
                    "displayName": self.name,
                    "type": "User",
                    "userPrincipalName": self.upn,
                    "modifiedProperties": [],
                }
            ]
        return self._target

    def gates(self, moment: int) -> list[str]:
        """SSPR verification options the user can use at ``moment``."""
        methods = self.methods if self.reg is not None and self.reg <= moment else self.before
        return [g for m in methods if (g := METHODS[m][0]) is not None]


@dataclass
class Risk:
    """One riskDetection: as it arrives, and optionally as it is after a later state change."""

    arrival: int
    first: Record
    change: int | None = None
    later: Record | None = None


class History:
    """Generates everything once; :class:`DemoTenant` filters and copies from it."""

    def __init__(self, n: int, weeks: int, seed: int, end: datetime, domain: str = DOMAIN) -> None:
        self.rng = random.Random(seed)
        self.domain = domain  # the users' UPN domain
        self.ns = uuid.uuid5(uuid.NAMESPACE_DNS, f"{domain}/seed/{seed}")
        self.t1 = as_ticks(end)
        self.t0 = self.t1 - weeks * WEEK
        self.weeks = weeks
        self.seq = 0
        self.shards = ["".join(self.rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", k=5)) for _ in range(64)]
        self.events: list[tuple[int, Record]] = []
        self.risks: list[Risk] = []
        self.quiet: list[tuple[int, int]] = []  # no background SSPR flows start here (around planted bursts)
        self.users = self._users(n)
        self.members = [u for u in self.users if not u.guest]
        self.pool: list[User] = []  # members for planted cases, taken in order by pick()
        self.next = 0
        self.group_id = self.oid("group/tier0")
        self.group: list[User] = []  # members of ADMIN_GROUP
        self.assign: list[tuple[str, str, User | None]] = []  # (role id, kind, user; None = the group)
        self.helpdesk: list[User] = []

    # ------------------------------------------------------------------ ids and users
    def oid(self, kind: str) -> str:
        return str(uuid.uuid5(self.ns, kind))

    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _users(self, n: int) -> list[User]:
        rng = self.rng
        campaign = max(self.weeks, 26) * WEEK
        c0 = self.t1 - campaign
        hostile = n // 3
        seen: dict[str, int] = {}
        sets, weights = zip(*METHOD_SETS, strict=True)
        ips = list(HOME_IPS)
        rng.shuffle(ips)
        users = []
        for i in range(n):
            guest = i != hostile and rng.random() < 0.05
            first, last = ("Robert", "Tables") if i == hostile else (rng.choice(FIRST), rng.choice(LAST))
            base = f"{first}.{last}".lower()
            count = seen[base] = seen.get(base, 0) + 1
            local = base if count == 1 else f"{base}{count}"
            upn = f"{local}_{rng.choice(PARTNERS)}#EXT#@{self.domain}" if guest else f"{local}@{self.domain}"
            ip = (
                f"2001:db8:4e47:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}"
                if rng.random() < 0.04
                else ips[i % len(ips)]
            )
            r = rng.random()
            if guest:
                reg = c0 - DAY if r < 0.08 else None
            elif r < 0.60:
                reg = c0 - rng.randrange(1, 400) * DAY - rng.randrange(DAY)
            elif r < 0.92:
                reg = c0 + int(campaign * ((r - 0.60) / 0.32) ** 1.15) + rng.randrange(-DAY, DAY)
                reg = min(reg, self.t1 - HOUR)
            else:
                reg = None
            methods = ("email",) if guest else rng.choices(sets, weights)[0]
            before = ("windowsHelloForBusiness",) if not guest and rng.random() < 0.15 else ()
            name = HOSTILE_NAME if i == hostile else f"{first} {last}"
            uid = self.oid(f"user/{i}")
            users.append(User(i, uid, upn, name, guest, ip, rng.randrange(90), reg, methods, before))
        return users

    # ------------------------------------------------------------------ records
    def audit(
        self,
        t: int,
        service: str,
        activity: str,
        corr: str,
        by: Record,
        targets: list[Record],
        result: str = "success",
        reason: str = "",
        *,
        details: list[Record] | None = None,
    ) -> Record:
        self.seq += 1
        prefix = {SSPR: "SSPR", CORE: "Directory"}.get(service, "AuthenticationMethods")
        rec: Record = {
            "id": f"{prefix}_{corr}_{self.shards[self.seq % 64]}_{3_771_000 + self.seq * 37}",
            "category": "UserManagement",
            "correlationId": corr,
            "result": result,
            "resultReason": reason,
            "activityDisplayName": activity,
            "activityDateTime": graph_time(t),
            "loggedByService": service,
            "operationType": "Update",
            "initiatedBy": by,
            "targetResources": targets,
            "additionalDetails": [] if details is None else details,
        }
        self.events.append((t, rec))
        return rec

    def step(self) -> int:
        """A few seconds between two steps of a flow (100 ns resolution)."""
        return self.rng.randrange(4 * SECOND, 45 * SECOND)

    def by(self, u: User, ip: str) -> Record:
        return {"user": {**u.ref(), "ipAddress": ip}, "app": None}

    def flow(
        self,
        u: User,
        t: int,
        ip: str,
        outcome: str = "completed",
        gates: Sequence[str] | None = None,
        failed: Sequence[str] = (),
    ) -> tuple[int, list[Record]]:
        """One SSPR flow from ``t``; returns its end time and its records. ``gates``: the methods passed (default:
        one the user registered, two for administrators); ``failed``: methods started and not completed first."""
        rng = self.rng
        if gates is None:
            usable = u.gates(t) or ["email"]
            gates = rng.sample(usable, 2) if u.admin and len(usable) > 1 else [rng.choice(usable)]
            gates = ["mobile voice call" if g == "mobile SMS" and rng.random() < 0.15 else g for g in gates]
        passed, ending, reset = FLOW_ENDINGS[outcome]
        steps = [("User submitted their user ID", "success")]
        if outcome != "config":
            steps.append(("User was presented with verification options", "success"))
            steps += [(f"User started the {g} verification option", "success") for g in failed]
            for g in gates if passed == 2 else gates[:1]:
                steps.append((f"User started the {g} verification option", "success"))
                if passed:
                    steps.append((f"User completed the {g} verification option", "success"))
            if passed == 2:
                steps.append(("User completed all verification steps required", "success"))
        steps += [(reason.format(gates[0]), result) for reason, result in ending]
        corr, by, target = self.guid(), self.by(u, ip), u.target()
        records = []
        for i, (reason, result) in enumerate(steps):
            t += self.step() if i else 0
            records.append(self.audit(t, SSPR, PROGRESS, corr, by, target, result, reason))
        if reset is not None:
            t += rng.randrange(SECOND // 2, 2 * SECOND)
            records.append(self.audit(t, SSPR, SSPR_RESET, corr, by, target, *reset))
        return t, records

    def change(self, u: User, t: int, ip: str, result: str = "success", reason: str = "") -> Record:
        return self.audit(t, SSPR, SSPR_CHANGE, self.guid(), self.by(u, ip), u.target(), result, reason)

    def blocked(self, u: User, t: int, ip: str) -> Record:
        return self.audit(t, SSPR, BLOCKED, self.guid(), self.by(u, ip), u.target(), "success", BLOCK_REASON)

    def attempts(self, u: User, t: int, ip: str, outcomes: Sequence[str], **kw: Any) -> int:
        """Several failed flows a few minutes apart, then the block; returns the block time."""
        for outcome in outcomes:
            t, _ = self.flow(u, t, ip, outcome, **kw)
            t += self.rng.randrange(2 * MINUTE, 9 * MINUTE)
        self.blocked(u, t, ip)
        return t

    def admin_reset(self, admin: User, u: User, t: int, portal: bool, agent: str = "None") -> None:
        """A helpdesk reset: the portal logs the SSPR-service event and the Core Directory one; scripts only the
        latter."""
        corr, by = self.guid(), self.by(admin, OFFICE_IPS[admin.index % 4])
        if portal:
            details = [{"key": "OnPremisesAgent", "value": agent}]
            self.audit(t, SSPR, ADMIN_RESET, corr, by, u.target(), details=details)
            t += self.rng.randrange(SECOND, 6 * SECOND)
        self.audit(t, CORE, CORE_RESET, corr, by, u.target())

    def tap(self, admin: User, u: User, t: int) -> None:
        by = self.by(admin, OFFICE_IPS[admin.index % 4])
        self.audit(t, AUTH_METHODS, "Admin registered security info", self.guid(), by, u.target(), reason=TAP_REASON)

    def registration(self, u: User, t: int) -> None:
        """Combined security-info registration, then the SSPR service's own events."""
        corr, by, target = self.guid(), self.by(u, u.ip), u.target()
        steps = [
            (AUTH_METHODS, "User started security info registration", "User started the registration for security info")
        ]
        steps += [
            (AUTH_METHODS, "User registered security info", METHODS[m][1]) for m in u.methods if m not in u.before
        ]
        steps += [
            (AUTH_METHODS, "User registered all required security info", "User registered all required security info"),
            (SSPR, "Security info saved for self-service password reset", ""),
            (SSPR, "User registered for self-service password reset", ""),
        ]
        for service, activity, reason in steps:
            self.audit(t, service, activity, corr, by, target, reason=reason)
            t += self.rng.randrange(2 * SECOND, 90 * SECOND)

    # ------------------------------------------------------------------ the normal rhythm
    def count(self, expected: float) -> int:
        return int(expected) + (self.rng.random() < expected - int(expected))

    def when(self, day0: int, monday: bool = True) -> int:
        """A working-hours moment on the day starting at ``day0``; weekends mostly move to Monday."""
        weekday = (day0 // DAY + 3) % 7
        if monday and weekday >= 5 and self.rng.random() < 0.85:
            day0 += (7 - weekday) * DAY
        t = day0 + self.rng.choices(HOURS, cum_weights=HOUR_CUM)[0] * HOUR + self.rng.randrange(HOUR)
        for lo, hi in self.quiet:
            if lo <= t <= hi:
                t = hi + self.rng.randrange(HOUR, 3 * HOUR)
        return t

    def background(self, helpdesk: Sequence[User]) -> None:
        last_week = self.t1 - WEEK
        by_offset: list[list[User]] = [[] for _ in range(90)]
        for u in self.members:
            if not u.reserved:
                by_offset[u.offset].append(u)
        free = [u for u in self.members if not u.reserved and not u.admin] or [u for u in self.members if not u.admin]
        first, last = self.t0 // DAY, (self.t1 - 1) // DAY
        for dnum in range(first - 4, last + 12):  # password expiry days (changes come up to 10 days early)
            for u in by_offset[(-dnum) % 90]:
                self.expiry(u, dnum * DAY, helpdesk)
        n = len(self.members)
        for dnum in range(first, last + 1):
            day0, weekday = dnum * DAY, (dnum + 3) % 7
            quiet = day0 >= last_week  # the planted cases stand alone in the review week
            weight = DAY_WEIGHTS[weekday] / sum(DAY_WEIGHTS)
            for _ in range(self.count(n * 0.006 * weight)):  # forgotten passwords
                self.sspr(self.rng.choice(free), self.when(day0, False), helpdesk, quiet)
            for _ in range(self.count(n * 0.001 * weight)):
                u = self.rng.choice(free)
                self.audit(self.when(day0, False), SSPR, UNLOCK, self.guid(), self.by(u, u.ip), u.target())
            if not quiet:
                for _ in range(self.count(n / 1000 * weight)):
                    self.background_block(self.rng.choice(free), self.when(day0, False))
                for _ in range(self.count(n / 2500 * weight)):
                    self.helpdesk_reset(self.rng.choice(helpdesk), self.rng.choice(free), self.when(day0, False))
            for _ in range(self.count(n / 400 / 7)):
                self.background_risk(self.rng.choice(free), day0 + self.rng.randrange(DAY), day0 < last_week - WEEK)
        for u in self.users:
            if u.reg is not None and self.t0 <= u.reg < self.t1:
                self.registration(u, u.reg)

    def expiry(self, u: User, day0: int, helpdesk: Sequence[User]) -> None:
        rng = self.rng
        r = rng.random()
        if r < 0.60 or (r < 0.95 and u.admin):  # changed before the expiry, on a busy weekday
            days = [day0 - k * DAY for k in range(11)]
            day = rng.choices(days, [DAY_WEIGHTS[(d // DAY + 3) % 7] for d in days])[0]
            t = self.when(day, False)
            ip = OFFICE_IPS[u.index % 4] if rng.random() < 0.7 else u.ip
            if rng.random() < 0.02 and t < self.t1 - WEEK:
                self.change(u, t, ip, "failure", "FuzzyPolicyViolationInvalidPassword")
                t += rng.randrange(MINUTE, 4 * MINUTE)
            self.change(u, t, ip)
        elif r < 0.82:  # forced change at the first sign-in after the expiry
            self.change(u, self.when(day0 + rng.randrange(3) * DAY), u.ip)
        elif r < 0.95:  # forgot it: self-service reset
            self.sspr(u, self.when(day0 + rng.randrange(4) * DAY), helpdesk, day0 >= self.t1 - WEEK - 4 * DAY)

    def sspr(self, u: User, t: int, helpdesk: Sequence[User], quiet: bool) -> None:
        rng = self.rng
        gates = u.gates(t)
        if not gates:
            t, _ = self.flow(u, t, u.ip, "config")
            if rng.random() < 0.5 and not quiet and t < self.t1 - WEEK:
                self.helpdesk_reset(rng.choice(helpdesk), u, t + rng.randrange(20 * MINUTE, 4 * HOUR), tap=0.5)
            return
        outcome = rng.choices(
            ("completed", "abandoned", "cancelled", "contacted", "throttled", "banned"), (80, 7, 4, 3, 3, 3)
        )[0]
        if outcome == "banned" and quiet:
            outcome = "completed"
        if outcome == "throttled" and "mobile SMS" not in gates:
            outcome = "cancelled"
        use = ["mobile SMS"] if outcome == "throttled" else None  # the SMS-code throttle
        failed: list[str] = []
        if use is None and len(gates) > 1 and rng.random() < 0.08:  # a first method that does not work out
            first, second = rng.sample(gates, 2)
            failed, use = [first], [second]
        t, _ = self.flow(u, t, u.ip, outcome, use, failed)
        if outcome == "banned" and rng.random() < 0.7:
            self.flow(u, t + rng.randrange(MINUTE, 5 * MINUTE), u.ip)

    def helpdesk_reset(self, admin: User, u: User, t: int, tap: float = 0.25) -> None:
        portal = self.rng.random() < 0.6
        self.admin_reset(admin, u, t, portal, self.rng.choice(("None", "Microsoft Entra Connect")))
        if self.rng.random() < tap:
            self.tap(admin, u, t + self.rng.randrange(-2 * HOUR, 3 * HOUR))

    def background_block(self, u: User, t: int) -> None:
        rng, gates = self.rng, u.gates(t)
        if not gates:
            self.attempts(u, t, u.ip, ["config"] * 6)
        elif "mobile SMS" in gates and rng.random() < 0.4:  # codes that never arrive or are mistyped
            self.attempts(u, t, u.ip, rng.choices(("cancelled", "throttled"), k=6), gates=["mobile SMS"])
        else:
            self.attempts(u, t, u.ip, rng.choices(("cancelled", "contacted", "abandoned"), k=6))

    # ------------------------------------------------------------------ risk detections
    def risk(
        self,
        u: User,
        t: int,
        kind: str,
        ip: str | None = None,
        *,
        level: str | None = None,
        arrival: int | None = None,
        change: tuple[int, str, str] | None = None,
    ) -> Risk:
        """A riskDetection detected at ``t``; ``change``: (when, riskState, riskDetail) applied later."""
        rng = self.rng
        _, levels, timing, foreign = RISK_TYPES.get(kind, (0, ("medium",), "offline", True))
        user_level = kind == "leakedCredentials"
        if arrival is None:
            arrival = t if timing == "realtime" else t + rng.randrange(2 * HOUR, (20 if user_level else 6) * HOUR)
        city, state, country, lat, lon = PLACES[rng.randrange(4, len(PLACES)) if foreign else rng.randrange(4)]
        info: list[Record] = [{"Key": "userAgent", "Value": rng.choice(USER_AGENTS)}]
        if kind == "unfamiliarFeatures":
            info.append({"Key": "riskReasons", "Value": ["UnfamiliarASN", "UnfamiliarBrowser", "UnfamiliarIP"]})
        key = f"{self.ns}/risk/{len(self.risks)}"
        first: Record = {
            "id": hashlib.sha256(key.encode()).hexdigest(),
            "requestId": self.guid(),
            "correlationId": self.guid(),
            "riskEventType": kind,
            "riskState": "atRisk",
            "riskLevel": level or rng.choice(levels),
            "riskDetail": "none",
            "source": "IdentityProtection",
            "detectionTimingType": timing,
            "activity": "user" if user_level else "signin",
            "tokenIssuerType": "AzureAD",
            "ipAddress": None if user_level else (ip or u.ip),
            "location": None
            if user_level
            else {
                "city": city,
                "state": state,
                "countryOrRegion": country,
                "geoCoordinates": {"altitude": None, "latitude": lat, "longitude": lon},
            },
            "activityDateTime": graph_time(t - (rng.randrange(HOUR, 3 * DAY) if user_level else 0)),
            "detectedDateTime": graph_time(t),
            "lastUpdatedDateTime": graph_time(arrival),
            "userId": u.id,
            "userDisplayName": u.name,
            "userPrincipalName": u.upn,
            "additionalInfo": "[]" if user_level else json.dumps(info, separators=(",", ":")),
        }
        risk = Risk(arrival, first)
        if change is not None:
            when, state, detail = change
            risk.change = max(when, arrival)
            risk.later = first | {
                "riskState": state,
                "riskDetail": detail,
                "lastUpdatedDateTime": graph_time(risk.change),
            }
        self.risks.append(risk)
        return risk

    def background_risk(self, u: User, t: int, leaks: bool) -> None:
        rng = self.rng
        kinds = [k for k in RISK_TYPES if leaks or k != "leakedCredentials"]
        kind = rng.choices(kinds, [RISK_TYPES[k][0] for k in kinds])[0]
        ip = f"203.0.113.{rng.randrange(100, 128)}" if RISK_TYPES[kind][3] else u.ip
        if kind == "leakedCredentials":  # the user acts on the notification a day or two later
            fix = self.when(t // DAY * DAY + rng.randrange(1, 3) * DAY)
            if rng.random() < 0.8 and u.gates(fix):
                self.flow(u, fix, u.ip, "completed")
                self.risk(u, t, kind, change=(fix, "remediated", "userPerformedSecuredPasswordReset"))
            else:
                self.change(u, fix, u.ip)
                self.risk(u, t, kind, change=(fix, "remediated", "userPerformedSecuredPasswordChange"))
            return
        r = rng.random()
        if r < 0.55:
            change = (t + rng.randrange(MINUTE, 10 * MINUTE), "remediated", "userPassedMFADrivenByRiskBasedPolicy")
        elif r < 0.75:
            change = (t + rng.randrange(DAY, 4 * DAY), "dismissed", "adminDismissedAllRiskForUser")
        elif r < 0.85:
            change = (t + rng.randrange(HOUR, 3 * DAY), "confirmedSafe", "adminConfirmedSigninSafe")
        else:
            change = None
        self.risk(u, t, kind, ip, change=change)

    # ------------------------------------------------------------------ roles and planted cases
    def pick(self, k: int = 1, *, registered: bool | None = True) -> list[User]:
        """``k`` members for planted cases (reserved: no background activity). ``registered``: force the SSPR
        registration state (registered since before the history, or never)."""
        out = []
        for _ in range(k):
            u = self.pool[self.next % len(self.pool)]
            while u.admin:  # (a tiny tenant wraps round: planted cases then share accounts, never admins')
                self.next += 1
                u = self.pool[self.next % len(self.pool)]
            self.next += 1
            u.reserved = True
            if registered is True and (u.reg is None or u.reg > self.t0):
                u.reg = self.t0 - 90 * DAY
            elif registered is False:
                u.reg = None
            out.append(u)
        return out

    def setup_roles(self) -> None:
        self.pool = [u for u in self.members if u.index != len(self.users) // 3]
        self.rng.shuffle(self.pool)
        for role, k, kind in ROLE_LAYOUT:
            people = self.pick(k)
            for u in people:
                u.admin, u.methods, u.reserved = True, ADMIN_METHODS, False
                self.assign.append((ROLES[role][0], kind, u))
            if kind == "group":
                self.group = people
                self.assign.append((ROLES[role][0], "active", None))
        self.helpdesk = [u for role, kind, u in self.assign if role == ROLES[3][0] and u is not None]
