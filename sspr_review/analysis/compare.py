"""Week-over-week comparison: this week's findings against last week's by fingerprint, each new, continuing or
resolved (or unknown, when its kind could not be evaluated this week)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .model import Finding

__all__ = ["Comparison", "compare"]


@dataclass(frozen=True)
class Comparison:
    """This week's findings against last week's, by fingerprint.

    ``unknown`` holds last week's findings of kinds that could not be evaluated this week: they are neither
    continuing nor resolved.
    """

    new: tuple[Finding, ...]
    continuing: tuple[Finding, ...]
    resolved: tuple[Finding, ...]
    unknown: tuple[Finding, ...] = ()

    def status(self, finding: Finding) -> str | None:
        """ "new" or "continuing" for a current finding; ``None`` if it is not one of them."""
        if any(f.fingerprint == finding.fingerprint for f in self.new):
            return "new"
        if any(f.fingerprint == finding.fingerprint for f in self.continuing):
            return "continuing"
        return None


def compare(
    current: Iterable[Finding],
    previous: Iterable[Finding],
    *,
    not_evaluated: Iterable[str] = (),
) -> Comparison:
    """Classify findings as new, continuing or resolved by fingerprint (see :mod:`.model`)."""
    current = list(current)
    previous = list(previous)
    skipped = set(not_evaluated)
    before = {f.fingerprint for f in previous}
    now = {f.fingerprint for f in current}
    return Comparison(
        new=tuple(f for f in current if f.fingerprint not in before),
        continuing=tuple(f for f in current if f.fingerprint in before),
        resolved=tuple(f for f in previous if f.fingerprint not in now and f.kind not in skipped),
        unknown=tuple(f for f in previous if f.fingerprint not in now and f.kind in skipped),
    )
