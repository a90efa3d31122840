"""A Microsoft-Graph-compatible HTTP server on 127.0.0.1, for tests, benchmarks and demos.

The kit's real client (msgraph-sdk over httpx, plus the kit's own rate limiter and retries) is tested against
this server over real HTTP, so it behaves like Graph where the kit depends on it:

* the endpoints the kit reads (see :data:`ROUTES`), under ``/v1.0`` and ``/beta`` alike, path matching
  case-insensitive like Graph;
* paging with ``$top`` (per-endpoint default and maximum, ``$top`` above the maximum is a 400) and an
  **absolute** ``@odata.nextLink`` carrying the same query options plus an opaque ``$skiptoken``; pages of
  one listing come from one snapshot, like a server-side cursor;
* ``$filter`` parsed by a small recursive-descent parser (``and``, ``or``, parentheses, ``eq ne gt ge lt le``,
  ``startswith``, ``any`` lambdas); anything else is a 400 "Invalid filter clause", as are quoted datetimes
  compared with a ``*DateTime`` property and, for directoryAudits (``strict_filters``), properties and
  operators Microsoft does not document as filterable;
* ``$select``, ``$orderby`` (directoryAudits: ``activityDateTime`` only, default ``desc``), ``$expand``
  (``principal``/``roleDefinition`` on role assignments and eligibility instances);
* the authentication-methods report functions ``usersRegisteredByFeature`` and ``usersRegisteredByMethod``
  (counts over the registration rows, Graph's JSON shape; ``includedUserTypes`` other than ``all`` is a 400 as
  on Graph), and ``$filter`` on userRegistrationDetails limited to the properties Microsoft documents
  (:data:`REGISTRATION_DETAILS_FILTERS`);
* the documented throttling: the "reports" bucket (directoryAudits, userRegistrationDetails and the two
  report functions together)
  5 requests per 10 s with ``Retry-After``; the "identityProtection" bucket (riskDetections) 1 request per
  second **without** ``Retry-After``; a sliding window over request arrival times, rejected requests do not
  consume budget;
* Graph error bodies (``{"error": {"code", "message", "innerError": {...}}}``), 401 without the bearer
  token, permanent 403s (:meth:`GraphServer.deny`) and injected faults (:class:`Fault`);
* several tenants behind one server (``tenants``: one per bearer token, each throttled in its own buckets), with
  tokens shaped like Entra ID's whose ``tid`` claim names the tenant (:func:`mint_token`).

``time_scale`` shrinks the throttling windows (``0.01`` turns 10 s into 0.1 s). The scaled ``Retry-After``
is then sent as a decimal string (``"0.1"``); real Graph, and this server at ``time_scale=1``, send whole
seconds. Note that kiota's own ``RetryHandler`` only understands whole seconds and ignores a decimal value.
Fault delays and fault ``retry_after`` values are *not* scaled: they are sent and slept as given.

Run ``python -m tests.support.graph_server --demo`` to serve the demo tenant and point ``SSPR_REVIEW_GRAPH_URL`` at
the printed base URL.

One module per concern: :mod:`.server` (:class:`GraphServer`: lifecycle, test hooks, the order a request is judged
in), :mod:`.handler` (HTTP), :mod:`.auth`, :mod:`.faults`, :mod:`.throttling`, :mod:`.responses` (Graph's error
and JSON bodies), :mod:`.endpoint` and :mod:`.routes` (what is served), :mod:`.collection` and :mod:`.query`
(paging and the query options), :mod:`.odata_filter` (``$filter``), :mod:`.data` (:class:`GraphData`), one module
per endpoint family (:mod:`.audit`, :mod:`.risk`, :mod:`.registration`, :mod:`.roles`, :mod:`.policy`,
:mod:`.organization`, :mod:`.mail`) and :mod:`.cli` (``python -m``).
"""

from __future__ import annotations

from .auth import mint_token
from .cli import main, serve_until_stopped
from .data import DemoSource, GraphData
from .faults import Fault
from .handler import MAX_REQUEST_BYTES, RequestLog
from .routes import DEFAULT_PAGE_SIZES, ROUTES
from .server import GraphServer
from .throttling import THROTTLE_LIMITS

__all__ = [
    "DEFAULT_PAGE_SIZES",
    "MAX_REQUEST_BYTES",
    "ROUTES",
    "THROTTLE_LIMITS",
    "DemoSource",
    "Fault",
    "GraphData",
    "GraphServer",
    "RequestLog",
    "main",
    "mint_token",
    "serve_until_stopped",
]
