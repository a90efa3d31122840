"""What the notebooks display: one function per report section, each returning HTML or a plotly figure.

The notebooks stay thin: a parameters cell, :func:`open_review`, then one call per section
(``from sspr_review import report; report.header(ctx)``: :mod:`sspr_review.report` forwards to this package).
The sections by family:

- :mod:`.context`: :func:`open_review` (the display set up, then the application's
  :func:`~sspr_review.app.notebook.open_context`: the :class:`~sspr_review.app.notebook.Context` sections take)
- :mod:`.weekly`: header, coverage banner, needs attention, KPI tiles, charts, changes, configuration, explore
- :mod:`.sspr_config`: the SSPR configuration (the week's changes and the posture) and a user's changes
- :mod:`.findings`: blocked users, leaked credentials, takeover signals, admin/helpdesk resets, writeback
- :mod:`.risk`: risk detections and password resets
- :mod:`.user`: the user investigation
- :mod:`.trends`: the adoption trends
- :mod:`.render`: the Jinja2 templates (``sspr_review/report/templates/*.html.j2``, autoescaped: the one place
  tenant text is escaped), tables, times and names
"""

from __future__ import annotations

from .context import open_review, setup
from .findings import (
    admin_resets,
    blocked_users,
    helpdesk_resets,
    leaked_credentials,
    takeover_signals,
    writeback_failures,
)
from .render import MAX_USERS_SHOWN, display_frame, table
from .risk import risk_and_resets
from .sspr_config import sspr_configuration, user_policy_changes
from .trends import TRENDS, leak_fix_trend, trend, trend_table, trends_header
from .user import user_correlations, user_flows, user_profile, user_risk
from .weekly import (
    EXPLORE,
    PASSWORD_RULES,
    changes,
    chart,
    configuration,
    coverage_banner,
    explore,
    header,
    kpi_tiles,
    needs_attention,
    unrecognised,
    write_findings,
)

__all__ = [
    "EXPLORE",
    "MAX_USERS_SHOWN",
    "PASSWORD_RULES",
    "TRENDS",
    "admin_resets",
    "blocked_users",
    "changes",
    "chart",
    "configuration",
    "coverage_banner",
    "display_frame",
    "explore",
    "header",
    "helpdesk_resets",
    "kpi_tiles",
    "leak_fix_trend",
    "leaked_credentials",
    "needs_attention",
    "open_review",
    "risk_and_resets",
    "setup",
    "sspr_configuration",
    "table",
    "takeover_signals",
    "trend",
    "trend_table",
    "trends_header",
    "unrecognised",
    "user_correlations",
    "user_flows",
    "user_policy_changes",
    "user_profile",
    "user_risk",
    "write_findings",
    "writeback_failures",
]
