"""The rule registry: every rule with the kinds of data it needs and what it reads around the week (:data:`RULES`,
:func:`review_spans`), running them (:func:`evaluate`), and ``data_gap`` findings for the kinds that were missing
(:func:`data_gaps`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from ..core.coverage import Coverage
from ..core.settings import AnalysisSettings
from ..core.vocabulary import DATA_KINDS
from ._util import iso, plain
from .metrics import METRIC_SPECS
from .model import Finding, Rule, fingerprint
from .prepare import ReviewData
from .reads import ALL_HISTORY, REVIEW_READS, Reads, Span, days, hours, spans
from .rules_blocked import find_blocked_users
from .rules_leaked import find_leaked_credentials_remediated, find_leaked_credentials_unremediated
from .rules_policy import find_configuration_gap, find_sspr_policy_changes, find_writeback_disabled
from .rules_registration import find_registration_gaps
from .rules_resets import find_admin_password_resets, find_helpdesk_resets
from .rules_spikes import find_reset_spikes, new_ip_reach, spike_lookback, spike_reach
from .rules_writeback import find_writeback_failures
from .takeover import find_phone_only_resets_new_ip, find_security_info_changes_after_reset
from .window import ReviewWindow

__all__ = ["RULES", "data_gaps", "evaluate", "review_spans"]

#: What the takeover chains read around the week (:func:`~.takeover.chained_resets`): a security-info change within
#: ``takeover_window_hours`` after a reset; the spike rule reads them too.
_CHAINS: Final = Reads("audit", hours("takeover_window_hours", 2), hours("takeover_window_hours"))

#: Every rule, by kind (``data_gap`` comes from :func:`data_gaps`).
RULES: Final[Mapping[str, Rule]] = {
    r.kind: r
    for r in (
        Rule(
            "reset_spike",
            find_reset_spikes,
            (("audit",),),
            reads=(
                Reads("audit", spike_reach, spike_reach),
                _CHAINS,
                Reads("audit", spike_lookback, summary="resets"),
                Reads("audit", new_ip_reach, summary="ips"),
                Reads("audit", new_ip_reach, summary="starts"),
            ),
        ),
        Rule(
            "blocked_user",
            find_blocked_users,
            (("audit",),),
            ("risk", "registration", "roles"),
            reads=(Reads("risk", days("blocked_risk_lookback_days")),),
        ),
        Rule(
            "leaked_credentials_unremediated",
            find_leaked_credentials_unremediated,
            (("risk",), ("audit",)),
            reads=(Reads("risk", ALL_HISTORY), Reads("audit", ALL_HISTORY, summary="fixes")),
        ),
        Rule(
            "leaked_credentials_remediated",
            find_leaked_credentials_remediated,
            (("risk",), ("audit",)),
            reads=(Reads("risk", days("leak_remediation_days")), Reads("audit", days("leak_remediation_days"))),
        ),
        Rule("admin_password_reset", find_admin_password_resets, (("audit",), ("roles", "registration")), ("roles",)),
        Rule(
            "helpdesk_reset",
            find_helpdesk_resets,
            (("audit",),),
            ("roles", "registration"),
            reads=(Reads("audit", hours("tap_match_hours"), hours("tap_match_hours")),),
        ),
        Rule("writeback_failure", find_writeback_failures, (("audit",),)),
        Rule("registration_gap", find_registration_gaps, (("registration",),), ("roles",)),
        Rule(
            "security_info_changed_after_reset",
            find_security_info_changes_after_reset,
            (("audit",),),
            reads=(_CHAINS,),
        ),
        Rule(
            "phone_only_reset_new_ip",
            find_phone_only_resets_new_ip,
            (("audit",),),
            ("registration",),
            reads=(
                Reads("audit", days("new_ip_lookback_days"), summary="ips"),
                Reads("audit", ALL_HISTORY, summary="methods"),
            ),
        ),
        Rule(
            "sspr_policy_changed",
            find_sspr_policy_changes,
            (("audit",),),
            ("risk",),
            reads=(Reads("audit", hours("policy_chain_hours")), Reads("risk", hours("policy_chain_hours"))),
        ),
        Rule(
            "password_writeback_disabled",
            find_writeback_disabled,
            (("audit",),),
            ("risk", "policy"),
            reads=(Reads("audit", hours("policy_chain_hours")), Reads("risk", hours("policy_chain_hours"))),
        ),
        Rule("configuration_gap", find_configuration_gap, (("audit", "policy"),)),
    )
}


def review_spans(settings: AnalysisSettings) -> dict[str, Span]:
    """What a review reads of each time-ranged kind outside the weeks it reviews: the union of every rule's
    :attr:`~.model.Rule.reads` and the review's own (:data:`~.reads.REVIEW_READS`; see :mod:`.reads`)."""
    return spans([*REVIEW_READS, *(read for rule in RULES.values() for read in rule.reads)], settings)


def evaluate(
    data: ReviewData, window: ReviewWindow, settings: AnalysisSettings
) -> tuple[list[Finding], tuple[str, ...]]:
    """Run every rule whose kinds of data are complete; returns the findings and the finding kinds not evaluated."""
    findings: list[Finding] = []
    skipped = []
    for kind, rule in RULES.items():
        if all(any(data.has(s) for s in group) for group in rule.requires):
            findings.extend(rule.function(data, window, settings))
        else:
            skipped.append(kind)
    return findings, tuple(skipped)


def data_gaps(
    coverage: Mapping[str, Coverage],
    complete: Iterable[str],
    not_evaluated: Sequence[str],
    window: ReviewWindow,
) -> list[Finding]:
    """``data_gap`` (critical): one per kind of data that is missing or incomplete for the window, naming the finding
    kinds not evaluated and the metrics left empty because of it (and the rules it weakens)."""
    complete = set(complete)
    needed = {s for r in RULES.values() for g in r.requires for s in g} | {s for r in RULES.values() for s in r.uses}
    kinds = [k for k in DATA_KINDS if k in needed or k in coverage] + sorted(set(coverage) - set(DATA_KINDS))
    out = []
    for kind in kinds:
        if kind in complete:
            continue
        cov = coverage.get(kind)
        reason = (cov.reason if cov is not None else None) or (
            "no coverage information for this source" if cov is None else "incomplete for the review window"
        )
        blocked = [k for k in not_evaluated if any(kind in g for g in RULES[k].requires)]
        weakened = [
            k
            for k, r in RULES.items()
            if k not in not_evaluated and (kind in r.uses or any(kind in g for g in r.requires))
        ]
        metrics = [s.name for s in METRIC_SPECS if s.kind == kind]
        evidence = {
            "source": kind,
            "from": iso(cov.start) if cov is not None else None,
            "to": iso(cov.end) if cov is not None else None,
            "complete": False,
            "reason": reason,
            "not_evaluated": blocked,
            "evaluated_without_it": weakened,
            "metrics_missing": metrics,
        }
        what = f"; not evaluated: {', '.join(blocked)}" if blocked else ""
        out.append(
            Finding(
                kind="data_gap",
                severity="critical",
                title=f"{kind} data missing or incomplete for the week ({reason}){what}",
                users=(),
                start=window.start,
                end=window.end,
                evidence=plain(evidence),
                action=f"Fix the {kind} source ({reason}) and run the review again; until then, read missing "
                "metrics and the kinds listed under not_evaluated as unknown, not as zero.",
                fingerprint=fingerprint("data_gap", kind),
            )
        )
    return out
