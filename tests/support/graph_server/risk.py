"""``/identityProtection/riskDetections``: the "identityProtection" bucket (1 request per second, 429 without
``Retry-After``), ``$top`` up to 500, 20 by default."""

from __future__ import annotations

from .collection import listing
from .endpoint import Route

ROUTES = (
    Route(
        "/identityProtection/riskDetections",
        ("GET",),
        "identityProtection/riskDetections",
        listing(lambda data, _: data.risk_detections),
        bucket="identityProtection",
        page_size=(20, 500),
        top=True,
    ),
)
