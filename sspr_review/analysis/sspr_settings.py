"""The SSPR policy's settings as "Update SSPR Settings" logs them: names, labels, value types, the recommended
configuration, reading a logged value, and judging a change.

Microsoft logs a change of the SSPR policy as one ``modifiedProperties`` entry per setting, with the old and the
new value. Their encoding is not documented: public hunting queries parse each value twice (a JSON-encoded string
inside the string: ``"\\"2\\""``), the methods come as a JSON array, and a bare word (``True``) or ``null`` must
be expected too. :func:`decode_value` reads any of these; a value it cannot read keeps its raw text.
:func:`canonical` brings a decoded value to one spelling per setting type (so ``"2"``, ``2`` and ``"\\"2\\""``
compare equal), and :func:`judge` says whether a change weakens password reset, in words.

The recommended configuration (``/work`` reference "sspr-policy.md", the course chapter this kit grew from): SSPR
for **All** users, **2** methods, Authenticator notification and code, e-mail and mobile phone offered and
**no security questions**, registration required at sign-in with reconfirmation at most every **180** days,
users and administrators **notified** of resets, password writeback **enabled** in hybrid tenants.

A change **weakens** SSPR when it moves a setting away from that configuration or makes it easier to reset
someone else's password: fewer methods required, security questions added, an Authenticator method removed while
weaker ones stay, enablement narrowed (All → Selected → None), registration no longer required, the reconfirm
interval raised above the recommended maximum or to never, user or administrator notifications turned off,
writeback disabled; and any change from a value that met the recommendation (or an unknown one) to one that does
not. Changes of settings without a recommendation (the helpdesk link, account unlock), of settings the kit does
not know and of values it cannot read are neutral: kept, shown and counted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = [
    "METHOD_LABELS",
    "SETTINGS",
    "STRONG_METHODS",
    "WRITEBACK",
    "Decoded",
    "Judgement",
    "Setting",
    "canonical",
    "decode_value",
    "judge",
    "meets",
    "setting",
    "shown",
]

SettingType = Literal["enablement", "count", "days", "methods", "flag", "yesno", "text", "writeback", "unknown"]


@dataclass(frozen=True)
class Setting:
    """One setting of the SSPR policy: its logged ``name``, a ``label`` that reads in a title ("Methods required to
    reset lowered from 2 to 1"), its value ``type``, and the recommended value (canonical spelling; ``None``: the kit
    recommends nothing) with how the posture table shows it."""

    name: str
    label: str
    type: SettingType
    recommended: str | None = None
    recommended_text: str = ""


#: The pseudo-setting of the writeback events ("Enable/Disable password writeback for directory").
WRITEBACK: Final = "PasswordWriteback"

#: The settings the kit knows, by lower-case name, in the order of the portal's pages.
SETTINGS: Final[Mapping[str, Setting]] = {
    s.name.lower(): s
    for s in (
        Setting("EnablementForUsers", "SSPR enablement", "enablement", "All", "All users"),
        Setting("NumberOfRequiredContactMethodsForUsers", "Methods required to reset", "count", "2", "2"),
        Setting(
            "SelectedContactMethodsForUsers",
            "Methods available to users",
            "methods",
            "recommended",
            "Authenticator notification and code, e-mail, mobile phone; no security questions",
        ),
        Setting("EnforcedRegistrationEnablementForUsers", "Registration required at sign-in", "yesno", "Yes", "Yes"),
        Setting("EnforcedRegistrationIntervalInDaysForUsers", "Reconfirmation interval", "days", "180", "180 days"),
        Setting("NotifyUsersOfReset", "User notification of resets", "flag", "True", "Yes"),
        Setting("NotifyTenantAdminOfReset", "Admin notification when other admins reset", "flag", "True", "Yes"),
        Setting("CustomizeContactAdminLink", "Custom helpdesk link", "flag"),
        Setting("CustomContactAdminLink", "Helpdesk link address", "text"),
        Setting("EnableAccountUnlock", "Account unlock without reset", "flag"),
        Setting(WRITEBACK, "Password writeback", "writeback", "Enabled", "Enabled (hybrid tenants)"),
    )
}

#: The contact methods of the legacy SSPR policy, canonical spelling → label, in the portal's order.
METHOD_LABELS: Final[Mapping[str, str]] = {
    "MobileAppNotification": "Authenticator notification",
    "MobileAppCode": "Authenticator code",
    "Email": "e-mail",
    "MobileSMS": "mobile phone (SMS)",
    "MobileCall": "mobile phone (call)",
    "OfficeCall": "office phone",
    "AlternateEmail": "alternate e-mail",
    "SecurityQuestions": "security questions",
}
#: Methods that resist phishing and SIM swaps better than the rest: removing one while others stay weakens.
STRONG_METHODS: Final = frozenset({"MobileAppNotification", "MobileAppCode"})
_METHODS_LOWER: Final = {m.lower(): m for m in METHOD_LABELS}
_ENABLEMENT: Final = ("None", "Selected", "All")
_TRUE: Final = frozenset({"true", "yes", "1", "enabled", "on"})
_FALSE: Final = frozenset({"false", "no", "0", "disabled", "off"})
#: Words that mean "no value" (the logged ``Null`` of an unchanged ``EnableAccountUnlock``, an empty list).
_NOTHING: Final = frozenset({"", "null", "none"})


def setting(name: str) -> Setting:
    """The setting of a logged name (case-insensitive); an unknown name is a setting of type ``unknown``."""
    return SETTINGS.get(name.strip().lower()) or Setting(name.strip(), name.strip(), "unknown")


# ------------------------------------------------------------------------------------------ reading values
@dataclass(frozen=True)
class Decoded:
    """A logged value read: ``value`` is ``None``, a string, a number, a boolean or a list; ``parsed`` is false
    when the text looked like JSON but was not (or held an object), and ``value`` is then the raw text."""

    value: Any
    parsed: bool = True


def _loads(text: str) -> tuple[Any, bool]:
    try:
        return json.loads(text), True
    except ValueError:
        return None, False


def _looks_json(text: str) -> bool:
    return text[:1] in ('"', "[", "{")


def decode_value(raw: Any) -> Decoded:
    """Read one logged ``oldValue``/``newValue``: a JSON-encoded string (once or twice), a JSON array, a bare word or
    number, or null. Text that looks like JSON and is not (or an object) is not parsed: the raw text is kept.

    >>> decode_value('"\\\\"2\\\\""').value, decode_value('["Email","MobileSMS"]').value, decode_value("True").value
    ('2', ['Email', 'MobileSMS'], 'True')
    >>> decode_value("null"), decode_value('{"a": 1}').parsed
    (Decoded(value=None, parsed=True), False)
    """
    if raw is None or isinstance(raw, (bool, int, float)):
        return Decoded(raw)
    if isinstance(raw, list):
        return _decoded_list(raw)
    if not isinstance(raw, str):
        return Decoded(json.dumps(raw, sort_keys=True), parsed=False)
    text = raw.strip()
    value: Any = text
    for _ in range(2):  # the value may be a JSON string holding the JSON text of the value
        if not isinstance(value, str) or not value.strip():
            break
        inner = value.strip()
        loaded, ok = _loads(inner)
        if not ok:
            items = _bracket_list(inner)  # [Email, MobileSMS] written without quotes
            if items is None and _looks_json(inner):
                return Decoded(raw, parsed=False)
            value = items if items is not None else inner  # else a bare word
            break
        value = loaded
    if isinstance(value, list):
        return _decoded_list(value)
    if isinstance(value, dict):
        return Decoded(raw, parsed=False)
    return Decoded(value.strip() if isinstance(value, str) else value)


def _decoded_list(items: list[Any]) -> Decoded:
    if all(isinstance(i, (str, int, float, bool)) for i in items):
        return Decoded([str(i).strip() for i in items])
    return Decoded(json.dumps(items, sort_keys=True), parsed=False)


def _bracket_list(text: str) -> list[str] | None:
    """``[Email, MobileSMS]`` (a list written without quotes) as its items; ``None`` for anything else."""
    inner = text[1:-1]
    if not (text.startswith("[") and text.endswith("]")) or any(c in inner for c in '{}[]"'):
        return None
    return [part.strip().strip("'") for part in inner.split(",") if part.strip().strip("'")]


# ------------------------------------------------------------------------------------------ canonical values
def canonical(kind: SettingType, decoded: Decoded) -> tuple[str | None, bool]:
    """A decoded value in the one spelling of its setting type, and whether it could be read as that type.

    ``None`` is "no value". ``methods``: the method names in the portal's order (unknown names after them, as
    given), comma-separated, ``""`` for none; ``count``/``days``: the whole number; ``flag``: ``True``/``False``;
    ``yesno``: ``Yes``/``No``; ``enablement``: ``None``/``Selected``/``All`` (another word kept as given);
    ``writeback``: ``Enabled``/``Disabled``; ``text`` and ``unknown``: the text (a list comma-separated).
    """
    value = decoded.value
    if not decoded.parsed:
        return None, False
    if value is None:
        return None, True
    if kind == "methods":
        return _methods(value), True
    if kind in ("count", "days"):
        return _whole(value)
    if kind in ("flag", "yesno", "writeback"):
        return _switch(kind, value)
    if kind == "enablement":
        word = str(value).strip()
        return next((e for e in _ENABLEMENT if e.lower() == word.lower()), word), True
    return (",".join(str(v) for v in value) if isinstance(value, list) else str(value)), True


def _methods(value: Any) -> str:
    items = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
    names = {_METHODS_LOWER.get(str(i).strip().lower(), str(i).strip()) for i in items}
    names -= {n for n in names if n.lower() in _NOTHING}
    order = list(METHOD_LABELS)
    return ",".join(sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n)))


def _whole(value: Any) -> tuple[str | None, bool]:
    if isinstance(value, bool):
        return None, False
    if isinstance(value, (int, float)) and float(value).is_integer():
        return str(int(value)), True
    text = str(value).strip()
    if text.lower() in _NOTHING:
        return None, True
    return (str(int(text)), True) if text.lstrip("-").isdigit() else (None, False)


def _switch(kind: SettingType, value: Any) -> tuple[str | None, bool]:
    word = str(value).strip().lower()
    if word in _NOTHING:
        return None, True
    on = True if isinstance(value, bool) and value else word in _TRUE
    off = (isinstance(value, bool) and not value) or word in _FALSE
    if not (on or off):
        return None, False
    names = {"flag": ("True", "False"), "yesno": ("Yes", "No"), "writeback": ("Enabled", "Disabled")}[kind]
    return names[0] if on else names[1], True


def shown(kind: SettingType, value: str | None) -> str:
    """A canonical value as the report shows it: ``Yes``/``No``, ``never`` for a 0-day interval, method labels."""
    if value is None:
        return "(not set)"
    if kind == "methods":
        return ", ".join(METHOD_LABELS.get(m, m) for m in value.split(",") if m) or "none"
    if kind == "flag":
        return {"True": "Yes", "False": "No"}.get(value, value)
    if kind == "days":
        return "never" if value == "0" else f"{value} days"
    return value


# ------------------------------------------------------------------------------------------------ judging
def meets(item: Setting, value: str | None, reconfirm_max_days: int = 180) -> bool | None:
    """Whether ``value`` (canonical) meets the recommendation; ``None`` when unknown or nothing is recommended."""
    if value is None or item.recommended is None:
        return None
    if item.type == "methods":
        names = set(value.split(",")) - {""}
        return "SecurityQuestions" not in names and bool(names & STRONG_METHODS)
    if item.type == "days":
        return 0 < int(value) <= reconfirm_max_days
    if item.type == "count":
        return int(value) >= int(item.recommended)
    return value == item.recommended


@dataclass(frozen=True)
class Judgement:
    """What a change does: ``direction`` (``weakens``, ``strengthens`` or ``neutral``), ``phrase`` (what follows the
    setting's label in a title: "lowered from 2 to 1") and ``reasons`` (why it weakens, in words)."""

    direction: str
    phrase: str
    reasons: tuple[str, ...] = ()

    @property
    def weakens(self) -> bool:
        return self.direction == "weakens"


def judge(item: Setting, old: str | None, new: str | None, reconfirm_max_days: int = 180) -> Judgement:
    """Judge the change of ``item`` from ``old`` to ``new`` (canonical values, see :func:`canonical`)."""
    rule: JudgeRule = flag_rule(item) if item.type == "flag" else _DIRECTIONS.get(item.type, _neutral)
    base = rule(item, old, new, reconfirm_max_days)
    was, now = meets(item, old, reconfirm_max_days), meets(item, new, reconfirm_max_days)
    if not base.weakens and now is False and was is not False:
        why = f"no longer meets the recommendation ({item.recommended_text})"
        return Judgement("weakens", base.phrase, (*base.reasons, why))
    return base


#: How a setting type's change is judged: (setting, old, new, longest reconfirm interval) → judgement.
JudgeRule = Callable[[Setting, str | None, str | None, int], Judgement]


def _from_to(item: Setting, old: str | None, new: str | None) -> str:
    if old is None:
        return f"set to {shown(item.type, new)}"
    return f"changed from {shown(item.type, old)} to {shown(item.type, new)}"


def _neutral(item: Setting, old: str | None, new: str | None, _: int) -> Judgement:
    return Judgement("neutral", _from_to(item, old, new))


def _ranked(order: Sequence[str], worse: str, better: str) -> JudgeRule:
    def rule(item: Setting, old: str | None, new: str | None, _: int) -> Judgement:
        if old not in order or new not in order:
            return _neutral(item, old, new, 0)
        if order.index(new) < order.index(old):
            return Judgement("weakens", f"{worse} from {old} to {new}", (f"{worse} from {old} to {new}",))
        return Judgement("strengthens", f"{better} from {old} to {new}")

    return rule


def _count(item: Setting, old: str | None, new: str | None, _: int) -> Judgement:
    if old is None or new is None:
        return _neutral(item, old, new, 0)
    if int(new) < int(old):
        return Judgement("weakens", f"lowered from {old} to {new}", (f"fewer methods required ({old} → {new})",))
    return Judgement("strengthens", f"raised from {old} to {new}")


def _days(item: Setting, old: str | None, new: str | None, most: int) -> Judgement:
    if old is None or new is None:
        return _neutral(item, old, new, most)
    a, b = (float("inf") if int(v) == 0 else int(v) for v in (old, new))
    phrase = (
        f"set to never (was {shown('days', old)})"
        if b == float("inf")
        else f"{'raised' if b > a else 'lowered'} from {shown('days', old)} to {shown('days', new)}"
    )
    if b > a and b > most:
        return Judgement("weakens", phrase, (f"users reconfirm their methods less often than every {most} days",))
    return Judgement("strengthens" if b < a else "neutral", phrase)


def _switched(off_reason: str) -> JudgeRule:
    def rule(item: Setting, old: str | None, new: str | None, _: int) -> Judgement:
        on, off = {"flag": ("True", "False"), "yesno": ("Yes", "No"), "writeback": ("Enabled", "Disabled")}[item.type]
        if new == off:
            return Judgement("weakens" if off_reason else "neutral", "turned off", (off_reason,) if off_reason else ())
        if new == on:
            return Judgement("strengthens" if off_reason else "neutral", "turned on")
        return _neutral(item, old, new, 0)

    return rule


def _methods_change(item: Setting, old: str | None, new: str | None, _: int) -> Judgement:
    before = set((old or "").split(",")) - {""}
    after = set((new or "").split(",")) - {""}
    added, removed = sorted(after - before), sorted(before - after)
    parts = [f"{METHOD_LABELS.get(m, m)} added" for m in added] + [
        f"{METHOD_LABELS.get(m, m)} removed" for m in removed
    ]
    phrase = f"changed ({', '.join(parts) or 'reordered'})"
    reasons = []
    if "SecurityQuestions" in added:
        reasons.append("security questions added (guessable or researchable answers)")
    strong_removed = [m for m in removed if m in STRONG_METHODS]
    if strong_removed and after - STRONG_METHODS:
        labels = ", ".join(METHOD_LABELS[m] for m in strong_removed)
        reasons.append(f"{labels} removed while weaker methods stay")
    if reasons:
        return Judgement("weakens", phrase, tuple(reasons))
    better = "SecurityQuestions" in removed or bool(set(added) & STRONG_METHODS)
    return Judgement("strengthens" if better else "neutral", phrase)


_DIRECTIONS: Final[Mapping[str, JudgeRule]] = {
    "enablement": _ranked(_ENABLEMENT, "narrowed", "widened"),
    "count": _count,
    "days": _days,
    "methods": _methods_change,
    "yesno": _switched("users are no longer made to register methods at sign-in"),
    "writeback": _switched("passwords reset in the cloud no longer reach on-premises Active Directory"),
}


def flag_rule(item: Setting) -> JudgeRule:
    """The rule of a ``flag`` setting: turning a recommended notification off weakens; other switches are neutral."""
    if item.name == "NotifyUsersOfReset":
        return _switched("users are no longer told when their password is reset (a takeover goes unnoticed)")
    if item.name == "NotifyTenantAdminOfReset":
        return _switched("administrators are no longer told when another administrator resets their password")
    return _switched("")
