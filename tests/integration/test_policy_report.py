"""What a reader sees of the SSPR configuration (issue 23, point 4), on the session's demo store: the weekly review's
section, the user investigation's listing, the trends' markers, and the terminal summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from sspr_review.app.notebook import open_context
from sspr_review.report import charts
from sspr_review.report.sections.sspr_config import sspr_configuration, user_policy_changes
from sspr_review.report.style import RED
from sspr_review.report.summary import review_lines

pytestmark = pytest.mark.slow


def test_what_the_reports_show(demo_store: Path, small_config: Path) -> None:
    ctx = open_context(str(small_config), "demo", "", str(demo_store))
    planted = ctx.ws.demo_tenant().planted
    admin, other = planted.policy_admin.upn, planted.policy_other_admin.upn

    html = sspr_configuration(ctx).data
    changes, posture = html.split("Against the recommended configuration")
    assert changes.index(other) < changes.index(admin)  # this week's changes, in time order
    assert changes.count(">weakens<") == 4 and "security questions added" in changes and "2 → <b>1</b>" in changes
    assert "1 save of the policy changed nothing" in changes
    assert posture.count(">deviates<") == 4 and "Temporary Access Pass method" in posture
    assert "the tenant syncs from on-premises" in posture

    lines = "\n".join(review_lines(ctx.review))
    assert f"HIGH     Methods required to reset lowered from 2 to 1 by {admin}" in lines
    assert f"HIGH     Password writeback disabled by {admin} in a tenant that syncs from on-premises" in lines

    mine = open_context(str(small_config), "demo", "", str(demo_store), compare=False, user=admin)
    listed = user_policy_changes(mine).data
    assert listed.count("<tr>") == 1 + 4 and other not in listed  # the header and the admin's four changes
    theirs = user_policy_changes(mine, other.upper()).data  # any case
    assert "Helpdesk link address" in theirs and admin not in theirs
    assert "No change of the SSPR configuration by nobody@" in user_policy_changes(mine, "nobody@example.com").data

    figure = charts.named_trend(ctx.review, "resets")
    (marks,) = [t for t in figure.data if t.hovertext is not None]
    assert RED in marks.marker.color and any(admin in text for text in marks.hovertext)
    assert any("SSPR configuration change" in a.text for a in figure.layout.annotations)
