"""Finding one's way: the reports' sections in order (the notebooks' own headings, a test keeps the two in step),
the contents list linking to each, and where each finding kind's detail is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ...app.notebook import Context
from .render import section

if TYPE_CHECKING:
    from IPython.display import HTML

#: The weekly review's sections, in order: the titles of the notebook's ``##`` headings.
WEEKLY_SECTIONS: Final = (
    "This week in numbers",
    "Needs attention",
    "Completed resets per hour",
    "Self-service versus helpdesk",
    "SSPR funnel",
    "Verification methods",
    "Blocked users",
    "Leaked credentials",
    "Account takeover signals",
    "Risk detections and password resets",
    "Administrator password resets",
    "Helpdesk resets and Temporary Access Passes",
    "Password writeback failures",
    "Compared with last week",
    "SSPR configuration",
    "Data coverage",
    "What the kit could not classify",
)
#: The adoption trends' sections, in order.
TRENDS_SECTIONS: Final = (
    "Resets per week",
    "Self-service share",
    "Registration coverage",
    "Flow success rate",
    "Blocked users and banned passwords",
    "Helpdesk cost avoided",
    "Leaked credentials fixed by the users",
    "The numbers",
)
#: Where each finding kind is shown in detail, beyond "needs attention": the title of its section.
DETAIL: Final = {
    "data_gap": "Data coverage",
    "reset_spike": "Completed resets per hour",
    "blocked_user": "Blocked users",
    "leaked_credentials_unremediated": "Leaked credentials",
    "leaked_credentials_remediated": "Leaked credentials",
    "security_info_changed_after_reset": "Account takeover signals",
    "phone_only_reset_new_ip": "Account takeover signals",
    "admin_password_reset": "Administrator password resets",
    "helpdesk_reset": "Helpdesk resets and Temporary Access Passes",
    "writeback_failure": "Password writeback failures",
    "registration_gap": "This week in numbers",
    "sspr_policy_changed": "SSPR configuration",
    "password_writeback_disabled": "SSPR configuration",
    "configuration_gap": "SSPR configuration",
}


def heading_id(title: str) -> str:
    """The id the exported HTML (nbconvert) and JupyterLab give a heading: its words joined by hyphens."""
    return "-".join(title.split())


def _links(titles: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"href": f"#{heading_id(t)}", "text": t} for t in titles]


def contents(ctx: Context) -> HTML:
    """The weekly review's contents: a link to every section."""
    return section("contents.html.j2", links=_links(WEEKLY_SECTIONS))


def trends_contents(ctx: Context) -> HTML:
    """The adoption trends' contents: a link to every section."""
    return section("contents.html.j2", links=_links(TRENDS_SECTIONS))
