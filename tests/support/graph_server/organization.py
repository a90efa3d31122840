"""``/organization``: the tenant's one organization record (its name and id for the report)."""

from __future__ import annotations

from .collection import listing
from .endpoint import Route

ROUTES = (Route("/organization", ("GET",), "organization", listing(lambda data, _: data.organization)),)
