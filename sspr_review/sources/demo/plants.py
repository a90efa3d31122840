"""The planted cases of the demo tenant's last review week (and the near misses and earlier weeks around them),
generated on top of the background :class:`~.generator.History`: :meth:`PlantedHistory.generate` returns the
:class:`~.planted.Planted` that describes them."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from .constants import (
    AUTH_METHODS,
    CORE_RESET,
    DAY,
    DEVICE,
    HOUR,
    METHODS,
    MINUTE,
    OFFICE_IPS,
    ONBOARDING_APP,
    ROLES,
    SECOND,
    SPIKE_IPS,
    SSPR,
    SSPR_RESET,
    UNKNOWN_ACTIVITY,
    UNKNOWN_REASON,
    WEEK,
    Record,
    as_datetime,
)
from .generator import History, User
from .planted import Planted, PlantedUser
from .policy_plants import plant_policy

__all__ = ["PlantedHistory"]


def _pu(users: Sequence[User]) -> tuple[PlantedUser, ...]:
    return tuple(PlantedUser(u.id, u.upn, u.name) for u in users)


class PlantedHistory(History):
    """The history with the planted cases: :meth:`generate` builds it all, once."""

    def generate(self) -> Planted:
        self.setup_roles()
        planted = self.plant()
        self.background(self.helpdesk)
        self.events = [e for e in self.events if self.t0 <= e[0] <= self.t1]
        self.events.sort(key=lambda e: e[0])
        self.risks = [r for r in self.risks if self.t0 - 30 * DAY <= r.arrival]
        self.risks.sort(key=lambda r: str(r.first["detectedDateTime"]))
        return planted

    def at(self, day: float, hour: float, minute: float = 0) -> int:
        """A moment in the review week: ``day`` days after its start (negative: earlier weeks)."""
        return self.t1 - WEEK + int(day * DAY + hour * HOUR + minute * MINUTE) + self.rng.randrange(SECOND * 50)

    def plant(self) -> Planted:
        rng, w, at, pu = self.rng, self.t1 - WEEK, self.at, _pu
        found: dict[str, Any] = {
            "review_start": as_datetime(w),
            "review_end": as_datetime(self.t1),
            "spike_ips": SPIKE_IPS,
        }
        # 1. reset spike, a burst from one account, and a near miss in an earlier week
        spike = self.pick(14)
        self.quiet.append((at(1, 9, 30), at(1, 12, 30)))
        ends = [self.flow(u, at(1, 10, 38 + 2.9 * k), SPIKE_IPS[k % 3])[0] for k, u in enumerate(spike)]
        found |= {"spike_users": pu(spike), "spike_start": as_datetime(min(ends)), "spike_end": as_datetime(max(ends))}
        (burst,) = self.pick()
        self.quiet.append((at(3, 13, 0), at(3, 16, 0)))
        starts = [at(3, 14, 5 + 4 * k) for k in range(12)]
        for t in starts:
            self.flow(burst, t, "203.0.113.58", gates=["mobile app notification"])
        found |= {"burst_user": pu([burst])[0], "burst_resets": 12, "burst_start": as_datetime(starts[0])}
        near, nw = self.pick(9), (-2 if self.weeks >= 3 else -1)
        self.quiet.append((at(nw * 7, 8, 0), at(nw * 7, 11, 0)))
        starts = [at(nw * 7, 9, 5 + 5.5 * k) for k in range(9)]
        for u, t in zip(near, starts, strict=True):
            self.flow(u, t, u.ip)
        found |= {"near_miss_users": pu(near), "near_miss_start": as_datetime(starts[0])}
        # 2. leaked credentials
        fixed = self.pick(3)
        ids = []
        for k, u in enumerate(fixed):
            seen = at(k, 5 + k, 12)
            arrive = seen + rng.randrange(3 * HOUR, 10 * HOUR)
            start = at(k + 1, 9 + 3 * k, 20)  # 1-2 days after the detection
            if k < 2:
                fix, detail = self.flow(u, start, u.ip)[0], "userPerformedSecuredPasswordReset"
            else:
                fix, detail = start, "userPerformedSecuredPasswordChange"
                self.change(u, start, u.ip)
            change = (fix, "remediated", detail)
            ids.append((u.upn, self.risk(u, seen, "leakedCredentials", arrival=arrive, change=change).first["id"]))
        open_ = self.pick(3)
        for u, seen in zip(open_, (self.t1 - 12 * DAY + 3 * HOUR, at(1, 4), at(3, 2, 30)), strict=True):
            ids.append((u.upn, self.risk(u, seen, "leakedCredentials").first["id"]))
        before, grace, dismissed = self.pick(3)
        self.flow(before, at(0, 9, 15), before.ip)
        ids.append((before.upn, self.risk(before, at(2, 6), "leakedCredentials").first["id"]))
        late = self.risk(grace, self.t1 - 36 * HOUR, "leakedCredentials", arrival=self.t1 - 27 * HOUR)
        gone = (at(2, 10), "dismissed", "adminDismissedAllRiskForUser")
        ids += [
            (grace.upn, late.first["id"]),
            (dismissed.upn, self.risk(dismissed, at(1, 3), "leakedCredentials", change=gone).first["id"]),
        ]
        found |= {
            "leak_remediated_users": pu(fixed),
            "leak_unremediated_users": pu(open_),
            "leak_previous_week_user": pu(open_)[0],
            "leak_reset_before_user": pu([before])[0],
            "leak_grace_user": pu([grace])[0],
            "leak_dismissed_user": pu([dismissed])[0],
            "leak_detection_ids": tuple(ids),
        }
        return self.plant_more(found)

    def notify(self, t: int, flow: list[Record], reason: str) -> Record:
        """A notification after a completed reset (an activity name the kit does not know)."""
        first = flow[0]
        target = first["targetResources"]
        return self.audit(
            t + 2 * SECOND, SSPR, UNKNOWN_ACTIVITY, first["correlationId"], first["initiatedBy"], target, reason=reason
        )

    def plant_more(self, found: dict[str, Any]) -> Planted:
        """The planted cases 3 to 10, in a fixed order (each draws from the random stream in turn; 9 and 10 from
        streams of their own)."""
        self.plant_blocked(found)
        notices = self.plant_admins(found)
        desk = self.plant_helpdesk(found)
        self.plant_writeback(found)
        banned = self.plant_banned(found, notices)
        self.plant_unknown(found, notices)
        # the takeover cases draw from their own random stream, so the cases above keep their times and ids
        main, self.rng = self.rng, random.Random(f"{self.ns}/takeover")
        try:
            self.plant_takeover(found)
        finally:
            self.rng = main
        self.plant_correlations(found, spike=found["spike_users"][0], banned=banned[0], helped=desk[4])
        plant_policy(self, self.at, found)
        return Planted(**found)

    def plant_blocked(self, found: dict[str, Any]) -> None:
        """3. blocked from SSPR: two needing registration help, three looking like attacks."""
        at = self.at
        lost = self.pick(2, registered=False)
        for k, u in enumerate(lost):  # no methods at all / only Windows Hello (not usable for SSPR)
            u.before, u.ip = ("windowsHelloForBusiness",)[:k], f"203.0.113.{21 + k}"
            self.attempts(u, at(2 * k, 8 + 5 * k, 50), u.ip, ["config"] * 6)
        (risky,) = self.pick()
        spray = self.risk(risky, self.t1 - WEEK - 2 * DAY + 3 * HOUR, "passwordSpray", "203.0.113.71", level="high")
        self.attempts(risky, at(2, 22, 15), "203.0.113.72", ["cancelled", "contacted", "abandoned"] * 2)
        probed, ip = self.pick(4), "203.0.113.66"
        for k, u in enumerate(probed[1:]):
            self.flow(u, at(4, 2, 10 + 7 * k), ip, "cancelled")
        self.attempts(probed[0], at(4, 2, 35), ip, ["cancelled"] * 6)
        (voice,) = self.pick()
        voice.methods = ("email", "microsoftAuthenticatorPush", "softwareOneTimePasscode")
        self.attempts(voice, at(3, 16, 40), "203.0.113.81", ["cancelled"] * 6, gates=["mobile voice call"])
        found |= {
            "blocked_unregistered_users": _pu(lost),
            "blocked_risk_user": _pu([risky])[0],
            "blocked_risk_detection_id": spray.first["id"],
            "blocked_ip": ip,
            "blocked_ip_users": _pu(probed),
            "blocked_voice_user": _pu([voice])[0],
        }

    def plant_admins(self, found: dict[str, Any]) -> list[Record]:
        """4. administrators: a Global Administrator resets via SSPR, a group-made admin is reset by the helpdesk."""
        at = self.at
        ga = [u for role, _, u in self.assign if role == ROLES[0][0] and u is not None]
        end, records = self.flow(ga[0], at(2, 7, 48), ga[0].ip)
        notices = [self.notify(end, records, "Administrators were notified that an administrator reset their password")]
        self.admin_reset(self.helpdesk[0], self.group[0], at(3, 11, 20), False)
        found |= {
            "admin_self_reset_user": _pu(ga)[0],
            "admin_group_reset_user": _pu(self.group)[0],
            "admin_group_reset_by": _pu(self.helpdesk)[0],
            "global_admins": _pu(ga),
        }
        return notices

    def plant_helpdesk(self, found: dict[str, Any]) -> list[User]:
        """5. helpdesk resets of non-privileged users (one of them also last week), two with a Temporary Access Pass."""
        rng = self.rng
        at = self.at
        hostile = self.users[len(self.users) // 3]
        hostile.reserved = True
        desk = [hostile, *self.pick(4, registered=None)]
        plan = (
            (0, 10, 5, "Microsoft Entra Connect", None),
            (1, 14, 30, "None", 40),
            (2, 9, 20, "", None),
            (3, 15, 45, "", -35),
            (4, 8, 55, "", None),
        )
        for k, (u, (day, hour, minute, agent, tap)) in enumerate(zip(desk, plan, strict=True)):
            admin, t = self.helpdesk[k % len(self.helpdesk)], at(day, hour, minute)
            if not u.gates(t):
                self.flow(u, t - rng.randrange(20 * MINUTE, 50 * MINUTE), u.ip, "config")
            self.admin_reset(admin, u, t, bool(agent), agent)
            if tap is not None:
                self.tap(admin, u, t + tap * MINUTE)
        self.admin_reset(self.helpdesk[-1], desk[2], at(-5, 11, 10), True, "Microsoft Entra Connect")
        found |= {
            "hostile_user": _pu([hostile])[0],
            "helpdesk_reset_users": _pu(desk),
            "helpdesk_tap_users": _pu([desk[1], desk[3]]),
            "helpdesk_previous_week_user": _pu(desk)[2],
            "helpdesk_admins": _pu(self.helpdesk),
        }
        return desk

    def plant_writeback(self, found: dict[str, Any]) -> None:
        """6. password writeback: an agent outage on Wednesday afternoon, one account needing an admin."""
        rng = self.rng
        at = self.at
        writeback = self.pick(4)
        for k, u in enumerate(writeback):
            self.flow(
                u,
                at(2, 13, 12 + 40 * k) if k < 3 else at(4, 10, 20),
                u.ip,
                "writeback_admin" if k == 3 else "writeback",
            )
            if k < 2:
                self.flow(u, at(2, 17, 10 + 9 * k), u.ip)
        early, t = self.pick(2), max(self.t0 + DAY, self.t1 - 4 * WEEK) + 2 * DAY
        for k, u in enumerate(early):
            self.flow(u, t + (10 + k) * HOUR + rng.randrange(HOUR), u.ip, "writeback")
        found |= {"writeback_users": _pu(writeback), "writeback_earlier_users": _pu(early)}

    def plant_banned(self, found: dict[str, Any], notices: list[Record]) -> list[User]:
        """7. banned passwords: three self-service resets, two changes."""
        rng = self.rng
        at = self.at
        banned = self.pick(5)
        for k, u in enumerate(banned[:3]):
            t, _ = self.flow(u, at((0, 1, 3)[k], 11 + k, 25), u.ip, "banned")
            if k == 0:
                end, records = self.flow(u, t + rng.randrange(2 * MINUTE, 5 * MINUTE), u.ip)
                notices.append(self.notify(end, records, "User was notified that their password was reset"))
        for k, u in enumerate(banned[3:]):
            t, office = at(2 + 2 * k, 11, 5), OFFICE_IPS[k]
            self.change(u, t, office, "failure", "FuzzyPolicyViolationInvalidPassword")
            self.change(u, t + rng.randrange(MINUTE, 3 * MINUTE), office)
        found["banned_users"] = _pu(banned)
        return banned

    def plant_unknown(self, found: dict[str, Any], notices: list[Record]) -> None:
        """8. values the kit does not know."""
        at = self.at
        odd = self.pick(3)
        unknown_result = self.change(odd[0], at(4, 11, 11), odd[0].ip, "unknownFutureValue")
        _, records = self.flow(odd[1], at(3, 9, 40), odd[1].ip, gates=["passkey"])
        records[0]["deviceInfo"] = {"deviceId": self.oid("device/nge-lt-0417"), **DEVICE}
        future = self.risk(odd[2], at(2, 19, 5), "futureDetectionType", "203.0.113.90", level="unknownFutureValue")
        app = {"appId": self.oid("app/onboarding"), "displayName": ONBOARDING_APP}
        app |= {"servicePrincipalId": self.oid("sp/onboarding"), "servicePrincipalName": ONBOARDING_APP}
        by_app = self.audit(
            at(1, 16, 2),
            AUTH_METHODS,
            "Admin registered security info",
            self.guid(),
            {"user": None, "app": app},
            odd[0].target(),
            reason="Admin registered phone method for user",
        )
        found |= {
            "unknown_activity": UNKNOWN_ACTIVITY,
            "unknown_activity_ids": tuple(r["id"] for r in notices),
            "unknown_result_id": unknown_result["id"],
            "unknown_reason": UNKNOWN_REASON,
            "unknown_reason_id": next(r["id"] for r in records if r["resultReason"] == UNKNOWN_REASON),
            "unknown_risk_id": future.first["id"],
            "extra_property_id": records[0]["id"],
            "app_initiated_id": by_app["id"],
            "admin_group_id": self.group_id,
            "admin_group_members": _pu(self.group),
            "eligible_admins": _pu([u for _, kind, u in self.assign if kind == "eligible" and u is not None]),
        }

    def sitting(self, u: User, t: int, ip: str, steps: Sequence[tuple[str, str]]) -> int:
        """One security-info sitting (shared correlation id) of ``(activity, resultReason)`` steps; returns the
        time of the last."""
        corr, by, target = self.guid(), self.by(u, ip), u.target()
        for k, (activity, reason) in enumerate(steps):
            t += self.rng.randrange(2 * SECOND, 40 * SECOND) if k else 0
            self.audit(t, AUTH_METHODS, activity, corr, by, target, reason=reason)
        return t

    def plant_takeover(self, found: dict[str, Any]) -> None:
        at, pu = self.at, _pu
        registered = "User registered security info"
        attacker, sim = "203.0.113.93", "203.0.113.95"
        app = ("microsoftAuthenticatorPush", "mobilePhone", "softwareOneTimePasscode")
        high, medium, deleted, late, before, tap = self.pick(6)
        for u in (high, medium, deleted, late, before, tap):
            u.methods = app
        # security info changed after a reset: 40 minutes after an SMS-verified reset, from another IP, one sitting
        # with the "registered" event twice (Graph sometimes logs one method twice) and a new default method
        end, _ = self.flow(high, at(1, 20, 10), high.ip, gates=["mobile SMS"])
        auth_push = METHODS["microsoftAuthenticatorPush"][1]
        self.sitting(
            high,
            end + 40 * MINUTE,
            attacker,
            [
                ("User started security info registration", "User started the registration for security info"),
                (registered, auth_push),
                (registered, auth_push),
                ("User changed default security info", "User changed default sign-in method to Authenticator App"),
            ],
        )
        end, _ = self.flow(medium, at(-3, 18, 5), medium.ip, gates=["mobile app notification"])
        self.sitting(medium, end + 5 * HOUR, medium.ip, [("User updated security info", "User updated Mobile Phone")])
        helpdesk = self.helpdesk[-1]
        t = at(-5, 14, 30)
        self.admin_reset(helpdesk, deleted, t, True)
        self.sitting(deleted, t + 2 * HOUR, deleted.ip, [("User deleted security info", "User deleted Mobile Phone")])
        # near misses
        end, _ = self.flow(late, at(2, 8, 30), late.ip, gates=["mobile app code"])
        self.sitting(late, end + 25 * HOUR, late.ip, [(registered, METHODS["softwareOneTimePasscode"][1])])
        t = self.sitting(before, at(4, 9, 0), before.ip, [(registered, auth_push)])
        self.flow(before, t + 2 * HOUR, before.ip, gates=["mobile app notification"])
        t = at(-4, 11, 0)
        self.admin_reset(helpdesk, tap, t, False)
        self.tap(helpdesk, tap, t + 10 * MINUTE)
        self.sitting(tap, t + 70 * MINUTE, tap.ip, [(registered, auth_push)])
        found |= {
            "takeover_ip": attacker,
            "takeover_high_user": pu([high])[0],
            "takeover_medium_user": pu([medium])[0],
            "takeover_deleted_user": pu([deleted])[0],
            "takeover_late_user": pu([late])[0],
            "takeover_before_user": pu([before])[0],
            "takeover_tap_user": pu([tap])[0],
        }
        # phone-only resets from a new IP; each user but the last has earlier events from their usual IP
        phone, phone_medium, usual, by_app, nobody = self.pick(5)
        phone.methods = by_app.methods = app
        phone_medium.methods = usual.methods = nobody.methods = ("mobilePhone", "officePhone")
        self.flow(phone, at(-6, 9, 40), phone.ip, gates=["mobile app notification"])
        for k, u in enumerate((phone_medium, usual, by_app)):
            self.change(u, at(-6, 10 + k, 15), u.ip)
        self.flow(phone, at(2, 23, 40), sim, gates=["mobile SMS"])
        self.flow(phone_medium, at(-2, 21, 5), sim, gates=["mobile voice call"])
        self.flow(usual, at(3, 19, 20), usual.ip, gates=["mobile SMS"])
        self.flow(by_app, at(4, 20, 45), sim, gates=["mobile app notification"])
        self.flow(nobody, at(5, 7, 55), sim, gates=["mobile SMS"])
        found |= {
            "phone_new_ip": sim,
            "phone_new_ip_user": pu([phone])[0],
            "phone_new_ip_medium_user": pu([phone_medium])[0],
            "phone_usual_ip_user": pu([usual])[0],
            "app_new_ip_user": pu([by_app])[0],
            "phone_no_history_user": pu([nobody])[0],
        }

    def _last_reset(self, u: User, activities: tuple[str, ...]) -> int:
        """Time of the user's latest successful reset event among ``activities`` planted so far."""
        return max(
            t
            for t, r in self.events
            if r["activityDisplayName"] in activities
            and r["result"] == "success"
            and r["targetResources"][0]["id"] == u.id
        )

    def plant_correlations(self, found: dict[str, Any], *, spike: PlantedUser, banned: User, helped: User) -> None:
        """9. Risk detections around resets already planted: a detection the user fixed by SSPR, one the helpdesk
        fixed, and a spike account's reset followed by a detection from the reset's IP. Drawn from a random
        stream of their own and on reserved accounts, so every other case and the background stay as they were."""
        main, self.rng = self.rng, random.Random(f"{self.ns}/correlations")
        try:
            fixed = self._last_reset(banned, (SSPR_RESET,))
            change = (fixed, "remediated", "userPerformedSecuredPasswordReset")
            by_user = self.risk(
                banned, fixed - 3 * HOUR - 25 * MINUTE, "unfamiliarFeatures", "203.0.113.95", change=change
            )
            reset = self._last_reset(helped, (CORE_RESET,))
            change = (reset, "remediated", "adminGeneratedTemporaryPassword")
            by_admin = self.risk(
                helped, reset - 9 * HOUR - 40 * MINUTE, "anonymizedIPAddress", "203.0.113.96", change=change
            )
            (user,) = [u for u in self.users if u.id == spike.id]
            spiked = self._last_reset(user, (SSPR_RESET,))
            (ip,) = {
                r["initiatedBy"]["user"]["ipAddress"]
                for t, r in self.events
                if t == spiked and r["activityDisplayName"] == SSPR_RESET and r["targetResources"][0]["id"] == user.id
            }
            after = self.risk(user, spiked + 2 * HOUR + 10 * MINUTE, "unfamiliarFeatures", ip, level="medium")
        finally:
            self.rng = main
        found |= {
            "risk_reset_sspr_user": _pu([banned])[0],
            "risk_reset_sspr_detection_id": by_user.first["id"],
            "risk_reset_admin_user": _pu([helped])[0],
            "risk_reset_admin_detection_id": by_admin.first["id"],
            "reset_then_risk_user": spike,
            "reset_then_risk_ip": ip,
            "reset_then_risk_detection_id": after.first["id"],
        }
