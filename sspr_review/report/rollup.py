"""The roll-up of many findings of one kind: what a reviewer can read in two minutes.

A year of a large tenant can give a hundred findings of one kind in a week (one per leaked-credentials user).
When a kind has more than ``[analysis] rollup_threshold`` findings of one severity in a week, the weekly report's
"needs attention", the terminal summary and the e-mail show them as one :class:`Rollup` entry with a table of the
users (each still marked new or continuing). findings.json keeps every finding with its own fingerprint.

The same grouping serves :class:`~sspr_review.analysis.Finding` objects (report, terminal) and findings.json items
(e-mail): :func:`roll_up` takes functions reading the kind and severity of an item.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

T = TypeVar("T")

#: How a roll-up names its findings: "23 <label>".
KIND_LABELS: Final = {
    "data_gap": "data gaps",
    "reset_spike": "password-reset spikes",
    "blocked_user": "users blocked from SSPR",
    "leaked_credentials_unremediated": "leaked passwords not changed",
    "admin_password_reset": "administrator password resets",
    "helpdesk_reset": "helpdesk password resets",
    "writeback_failure": "password-writeback failure causes",
    "registration_gap": "registration gaps",
    "leaked_credentials_remediated": "leaked passwords changed by their users",
    "sspr_policy_changed": "changes of the SSPR configuration",
    "password_writeback_disabled": "password writeback switched off",
    "configuration_gap": "configuration gaps",
}


@dataclass(frozen=True)
class Rollup(Generic[T]):
    """More than the threshold of findings of one ``kind`` and ``severity``, shown as one entry."""

    kind: str
    severity: str
    items: tuple[T, ...]

    @property
    def title(self) -> str:
        """e.g. "117 leaked passwords not changed"."""
        return f"{len(self.items)} {KIND_LABELS.get(self.kind, self.kind.replace('_', ' ') + ' findings')}"


def roll_up(
    items: Sequence[T], threshold: int, kind: Callable[[T], str], severity: Callable[[T], str]
) -> list[T | Rollup[T]]:
    """``items`` in order, those of a (kind, severity) with more than ``threshold`` items replaced by one
    :class:`Rollup` where the first of them stood."""
    counts = Counter((kind(i), severity(i)) for i in items)
    groups: dict[tuple[str, str], list[T]] = {}
    out: list[T | Rollup[T]] = []
    slots: dict[tuple[str, str], int] = {}  # where each roll-up stands in ``out``
    for item in items:
        key = (kind(item), severity(item))
        if counts[key] <= threshold:
            out.append(item)
            continue
        if key not in groups:
            groups[key] = []
            slots[key] = len(out)
            out.append(item)  # replaced by the roll-up below
        groups[key].append(item)
    for key, slot in slots.items():
        out[slot] = Rollup(key[0], key[1], tuple(groups[key]))
    return out


def distinct(values: Sequence[str]) -> list[str]:
    """``values`` without repeats, in first-seen order (the actions of a roll-up)."""
    return list(dict.fromkeys(values))


def status_counts(statuses: Sequence[str | None]) -> str:
    """ "12 new, 3 continuing" (empty without a comparison)."""
    counts = Counter(s for s in statuses if s)
    return ", ".join(f"{counts[s]} {s}" for s in ("new", "continuing") if counts[s])
