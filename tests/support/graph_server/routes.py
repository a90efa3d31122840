"""The endpoints served, by family, and which one a request path names."""

from __future__ import annotations

import re
from collections.abc import Mapping

from . import audit, mail, organization, policy, registration, risk, roles
from .endpoint import Route

#: The endpoints served, relative to ``/v1.0`` (or ``/beta``).
ROUTES: tuple[Route, ...] = (
    *audit.ROUTES,
    *risk.ROUTES,
    *registration.ROUTES,
    *roles.ROUTES,
    *policy.ROUTES,
    *organization.ROUTES,
    *mail.ROUTES,
)

#: (default, maximum) page size per endpoint template. Endpoints not listed return everything in one page.
DEFAULT_PAGE_SIZES: Mapping[str, tuple[int, int]] = {r.template: r.page_size for r in ROUTES if r.page_size}


def find(relative: str) -> tuple[Route, re.Match[str]] | None:
    """The route a path relative to the version names (case-insensitive, like Graph), with its match."""
    for route in ROUTES:
        m = route.pattern.match(relative)
        if m:
            return route, m
    return None
