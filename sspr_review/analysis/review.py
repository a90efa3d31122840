"""One review: metrics, findings and flows for a week (:func:`build_review`), and its findings.json
(:func:`findings_json`; the format is described in ``docs/findings-json.md`` and
``sspr_review/data/findings.schema.json``)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Final

import numpy as np
import pandas as pd

from ..core.coverage import Coverage
from ..core.labels import METRICS
from ..core.settings import AnalysisSettings
from ..core.vocabulary import DATA_KINDS
from ._util import iso, plain, to_ns
from .compare import Comparison, compare
from .correlations import Correlations, correlate, correlations_json
from .flows import is_kind, unrecognised_reasons
from .inputs import ReviewInputs, holds_data, prepared_data
from .metrics import Metric, weekly_metrics, window_metrics
from .model import Finding, finding_from_dict, finding_to_dict, sort_findings
from .posture import PolicyState, policy_json, policy_state
from .prepare import ReviewData, for_window
from .reasons import END_STATES
from .registry import data_gaps, evaluate
from .rules_registration import admins_not_in_roles
from .takeover import phone_only_unjudged
from .verdict import Verdict, judge
from .window import ReviewWindow

__all__ = [
    "SCHEMA_VERSION",
    "Review",
    "build_review",
    "findings_json",
    "findings_schema",
    "verdict_of",
    "week_findings",
]

#: Version of the findings.json format (major.minor; a major change breaks readers).
SCHEMA_VERSION: Final = "1.2"
SCHEMA_RESOURCE: Final = "data/findings.schema.json"


@dataclass(frozen=True)
class Review:
    """The result of one review.

    ``metrics`` are the review week's values with the previous week's; ``weekly`` the trend (one row per week);
    ``findings`` sorted by severity; ``comparison`` against the previous review (``None`` without one);
    ``not_evaluated`` the finding kinds whose sources were incomplete; ``flows`` the SSPR flows started in the
    week; ``flow_summary`` their count per end state (``None`` when audit data is incomplete);
    ``unrecognised_reasons`` and ``unknown_activities`` what the kit could not classify in the week; ``notes``
    what the reviewer should know about the data (accounts flagged ``isAdmin`` that the role data does not list);
    ``not_judged`` per finding kind, what it could not judge for lack of history (``phone_only_reset_new_ip``:
    ``resets`` and ``users`` without an earlier IP in the lookback); ``verdict`` what needs the reviewer this week
    (:func:`~.verdict.judge` of the findings, the coverage and the comparison: see :mod:`.verdict`).
    """

    tenant: Mapping[str, str]
    window: ReviewWindow
    settings: AnalysisSettings
    coverage: Mapping[str, Coverage]
    metrics: Mapping[str, Metric]
    weekly: pd.DataFrame
    findings: tuple[Finding, ...]
    not_evaluated: tuple[str, ...]
    flows: pd.DataFrame
    flow_summary: Mapping[str, int] | None
    unrecognised_reasons: pd.DataFrame
    unknown_activities: pd.DataFrame
    comparison: Comparison | None = None
    notes: tuple[str, ...] = field(default=())
    not_judged: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    #: The prepared tables the review was computed from (for charts and drill-down tables).
    data: ReviewData | None = field(default=None, repr=False, compare=False)
    #: Risk detections against password resets, both ways (see :mod:`.correlations`).
    correlations: Correlations | None = field(default=None, repr=False, compare=False)
    #: The week's verdict, computed once by :func:`build_review` (``None`` for a review made by hand: see
    #: :func:`verdict_of`).
    verdict: Verdict | None = field(default=None, compare=False)
    #: The SSPR configuration at the week's end: changes, last known values, posture (see :mod:`.posture`).
    policy: PolicyState | None = field(default=None, repr=False, compare=False)

    def status(self, finding: Finding) -> str | None:
        """ "new" or "continuing" against the previous review; ``None`` without one."""
        return None if self.comparison is None else self.comparison.status(finding)


def verdict_of(review: Review) -> Verdict:
    """``review``'s verdict: the one :func:`build_review` computed, else judged now from its findings."""
    if review.verdict is not None:
        return review.verdict
    return judge(review.findings, review.coverage, review.status)


def _previous(previous: Sequence[Finding] | Mapping[str, Any] | None) -> list[Finding] | None:
    if previous is None:
        return None
    if isinstance(previous, Mapping):
        return [finding_from_dict(item) for item in previous.get("findings", ())]
    return list(previous)


def _unknown_activities(data_audit: pd.DataFrame, events: pd.DataFrame, window: ReviewWindow) -> pd.DataFrame:
    times = events["time"].to_numpy()
    mask = is_kind(events, "unknown") & (times >= to_ns(window.start)) & (times < to_ns(window.end))
    rows = np.flatnonzero(mask)
    frame = pd.DataFrame(
        {
            "activity": data_audit["activity"].iloc[rows].astype("string").fillna("(missing)").to_numpy(),
            "service": data_audit["service"].iloc[rows].astype("string").fillna("").to_numpy(),
        }
    )
    if frame.empty:
        return pd.DataFrame(
            {
                "activity": pd.Series(dtype="string"),
                "service": pd.Series(dtype="string"),
                "events": pd.Series(dtype="int64"),
            }
        )
    out = frame.groupby(["activity", "service"], sort=True).size().rename("events").reset_index()
    out["activity"] = out["activity"].astype("string")
    out["service"] = out["service"].astype("string")
    out["events"] = out["events"].astype("int64")
    return out.sort_values(["events", "activity"], ascending=[False, True], kind="stable").reset_index(drop=True)


def build_review(inputs: ReviewInputs, settings: AnalysisSettings | None = None) -> Review:
    """Review the week ``inputs.window`` from ``inputs`` (see :class:`~.inputs.ReviewInputs`) with ``settings``
    (default: the defaults in the window's time zone; the window's time zone wins over ``settings.timezone``).

    Pure: everything is read from ``inputs`` (the application layer loads them from the store), nothing else.
    """
    window, coverage = inputs.window, inputs.coverage
    settings = AnalysisSettings(timezone=window.timezone) if settings is None else settings
    data = prepared_data(inputs, settings)
    # one object for the window: week_findings evaluates it as it is, so what is derived serves the figures too
    data = for_window(replace(data, covered=inputs.covered), coverage)
    previous, notes = _previous_week(inputs, data, settings)
    fixed = _registration_snapshots(coverage, inputs.previous_coverage)
    history_start = inputs.history_start
    weekly = weekly_metrics(
        data, window, settings, history_start=history_start, covered=inputs.covered, registration_snapshots=fixed
    )
    metrics = window_metrics(data, window, settings, weekly=weekly)
    findings, not_evaluated = week_findings(data, coverage, window, settings)
    comparison = None if previous is None else compare(findings, previous, not_evaluated=not_evaluated)
    start = data.flows["start"]
    in_week = ((start >= pd.Timestamp(window.start)) & (start < pd.Timestamp(window.end))).to_numpy(dtype=bool)
    week_flows = data.flows[in_week].reset_index(drop=True)
    summary: dict[str, int] | None = None
    if data.has("audit"):
        counts = week_flows["end_state"].value_counts()
        summary = {state: int(counts.get(state, 0)) for state in END_STATES}
    review = Review(
        tenant=dict(inputs.tenant),
        window=window,
        settings=settings,
        coverage=dict(coverage),
        metrics=metrics,
        weekly=weekly,
        findings=findings,
        not_evaluated=not_evaluated,
        flows=week_flows,
        flow_summary=summary,
        unrecognised_reasons=unrecognised_reasons(data.audit, data.events, window.start, window.end),
        unknown_activities=_unknown_activities(data.audit, data.events, window),
        comparison=comparison,
        notes=(*_admin_notes(data, window, settings), *notes),
        data=data,
        not_judged=_not_judged(data, window, settings, not_evaluated),
        correlations=correlate(data, coverage, window, settings, history_start=history_start, weeks=len(weekly)),
        policy=policy_state(data, window, settings, (history_start or {}).get("audit")),
    )
    return replace(review, verdict=judge(review.findings, review.coverage, review.status))


def _previous_week(
    inputs: ReviewInputs, data: ReviewData, settings: AnalysisSettings
) -> tuple[list[Finding] | None, list[str]]:
    """Last week's findings (given, or reviewed from the same data under ``previous_coverage``) and a note when
    the week before holds no data; ``None`` without a comparison."""
    given = _previous(inputs.previous_findings)
    if given is not None or inputs.previous_coverage is None:
        return given, []
    if holds_data(inputs.previous_coverage):
        return list(week_findings(data, inputs.previous_coverage, inputs.window.shift(1), settings)[0]), []
    return [], ["The week before holds no data (this is the store's first reviewed week): every finding is new."]


def _admin_notes(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> list[str]:
    """What the reviewer should know of the administrators: those flagged ``isAdmin`` the role data lacks."""
    unlisted = admins_not_in_roles(data, window)
    if not unlisted:
        return []
    limit = settings.max_users_listed
    shown = ", ".join(unlisted[:limit]) + (f" and {len(unlisted) - limit} more" if len(unlisted) > limit else "")
    gaps = data.lacks("roles")
    return [
        f"{len(unlisted)} accounts the registration report flags as administrators are not in the role data "
        f"({shown}); they are treated as privileged"
        + (f" (the role data lacks: {'; '.join(gaps)})" if gaps else "; check their role assignments")
    ]


def _registration_snapshots(
    coverage: Mapping[str, Coverage], previous: Mapping[str, Coverage] | None
) -> dict[int, datetime | None]:
    """The registration snapshot of the review week (0) and the week before (1), by weeks before the review
    week, as the coverage chose them (for :func:`~.metrics.weekly_metrics`)."""
    out: dict[int, datetime | None] = {}
    now = coverage.get("registration")
    if now is not None and now.snapshot is not None:
        out[0] = now.snapshot
    before = None if previous is None else previous.get("registration")
    if before is not None and before.snapshot is not None:
        same = now is not None and now.snapshot is not None and now.snapshot.date() == before.snapshot.date()
        out[1] = None if same else before.snapshot
    return out


def _not_judged(
    data: ReviewData, window: ReviewWindow, settings: AnalysisSettings, not_evaluated: Sequence[str]
) -> dict[str, dict[str, int]]:
    if "phone_only_reset_new_ip" in not_evaluated:
        return {}
    counts = phone_only_unjudged(data, window, settings)
    return {"phone_only_reset_new_ip": counts} if counts else {}


def week_findings(
    data: ReviewData, coverage: Mapping[str, Coverage], window: ReviewWindow, settings: AnalysisSettings
) -> tuple[tuple[Finding, ...], tuple[str, ...]]:
    """The findings of ``window`` (sorted, data gaps included) and the kinds not evaluated: what
    :func:`build_review` reports, without the metrics. ``data``'s complete sources and the snapshots the week
    uses are taken from ``coverage``, so one :func:`~.prepare.prepare` serves the review week and the week
    before it."""
    data = for_window(data, coverage)
    found, not_evaluated = evaluate(data, window, settings)
    found += data_gaps(coverage, data.complete, not_evaluated, window)
    return sort_findings(found), not_evaluated


def _coverage(coverage: Mapping[str, Coverage]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for kind in [*DATA_KINDS, *sorted(set(coverage) - set(DATA_KINDS))]:
        cov = coverage.get(kind)
        if cov is None:
            cov = Coverage(kind, None, None, False, "no coverage information")
        out[kind] = {
            "from": iso(cov.start),
            "to": iso(cov.end),
            "complete": bool(cov.whole),
            "reason": cov.reason,
            "missing": list(cov.missing),
            "approximate": bool(cov.approximate),
            "snapshot": iso(cov.snapshot),
            "snapshot_offset_days": cov.offset_days,
            "mode": cov.mode,
            "notes": list(cov.notes),
            "selection": cov.selection,
            "suspect": cov.suspect,
        }
    return out


def _metric(m: Metric) -> dict[str, Any]:
    words = METRICS.get(m.name)
    return {
        "value": plain(m.value),
        "previous": plain(m.previous),
        "unit": m.unit,
        "source": m.kind,
        "label": words.label if words is not None else m.name,
        "better": words.better if words is not None else "neither",
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [plain(dict(zip(frame.columns, row, strict=True))) for row in frame.itertuples(index=False)]


def findings_json(review: Review, *, generated_at: datetime | None = None) -> dict[str, Any]:
    """The machine-readable result of ``review`` (a JSON-serialisable dict; see ``docs/findings-json.md``).

    Timestamps are ISO 8601 UTC with ``Z``; unknown values are ``null``, never 0.
    """
    generated = datetime.now(UTC) if generated_at is None else generated_at
    if generated.tzinfo is None:
        raise ValueError("generated_at must be timezone-aware")
    window = review.window
    findings = []
    for f in review.findings:
        item = finding_to_dict(f)
        item["status"] = review.status(f)
        findings.append(item)
    resolved: Iterable[Finding] = () if review.comparison is None else review.comparison.resolved
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tenant": {str(k): str(v) for k, v in review.tenant.items()},
        "window": {
            "start": iso(window.start),
            "end": iso(window.end),
            "previous_start": iso(window.previous_start),
            "time_zone": window.timezone,
            "week_ending": window.week_ending.isoformat(),
        },
        "generated_at": iso(generated),
        "coverage": _coverage(review.coverage),
        "verdict": verdict_of(review).to_dict(),
        "metrics": {name: _metric(m) for name, m in review.metrics.items()},
        "findings": findings,
        "resolved": [{"kind": f.kind, "title": f.title, "fingerprint": f.fingerprint} for f in resolved],
        "not_evaluated": list(review.not_evaluated),
        "notes": list(review.notes),
        "not_judged": {k: dict(v) for k, v in review.not_judged.items()},
        "flows": {
            "started": None if review.flow_summary is None else len(review.flows),
            "by_end_state": None if review.flow_summary is None else dict(review.flow_summary),
        },
        "unrecognised_reasons": _records(review.unrecognised_reasons),
        "unknown_activities": _records(review.unknown_activities),
        "correlations": correlations_json(review.correlations),
        "policy": policy_json(review.policy),
        "settings": plain(review.settings.as_dict()),
    }
    return doc


@functools.cache
def _schema_text() -> str:
    return resources.files("sspr_review").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")


def findings_schema() -> dict[str, Any]:
    """The JSON Schema of findings.json (``sspr_review/data/findings.schema.json``)."""
    loaded: dict[str, Any] = json.loads(_schema_text())
    return loaded
