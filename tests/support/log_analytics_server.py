"""A Log-Analytics-compatible query endpoint on 127.0.0.1, for tests, benchmarks and demos.

It answers the documented REST call the real ``azure-monitor-query`` client makes,
``POST {endpoint}/workspaces/{workspaceId}/query`` with JSON ``{"query": ..., "timespan": "start/end"}``, with
``{"tables": [{"name": "PrimaryResult", "columns": [{"name", "type"}], "rows": [...]}]}``, and evaluates the KQL
it receives (:mod:`tests.support.log_analytics_kql`: exactly the subset sspr-review sends; anything else is a 400
``BadArgumentError`` with Kusto's ``SyntaxError``/``SemanticError`` inside).

It serves the demo tenant (:class:`WorkspaceData.from_demo`) in the workspace tables' shape: ``AuditLogs`` and
``AADUserRiskEvents`` with PascalCase columns, dynamic columns as JSON text, ``TimeGenerated`` a little after the
event (ingestion), a risk detection whose state changed as two rows. Like the service it

* caps an answer's rows and bytes (``max_rows``, ``max_bytes``): a larger result comes back truncated with a
  ``PartialError`` (E_QUERY_RESULT_SET_TOO_LARGE), which the client turns into a ``LogsQueryPartialResult``;
* throttles: more than ``throttle = (requests, seconds)`` queries in a sliding window are a 429 with
  ``Retry-After``;
* answers 401 without the bearer token, 404 for an unknown workspace, 403 for :meth:`LogAnalyticsServer.deny`,
  a missing table when it is not in ``tables``, and injected faults (:class:`Fault`: a status, or a partial
  answer for a reason other than the caps).

``python -m tests.support.log_analytics_server --port 0`` serves the demo tenant and prints its base URL first
(``SSPR_REVIEW_LOG_ANALYTICS_URL``); ``--log FILE`` writes each query received as a JSON line.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.graph_server import serve_until_stopped
from tests.support.log_analytics_kql import KqlError, Table, output_rows, parse_datetime, run

__all__ = ["WORKSPACE_ID", "Fault", "LogAnalyticsServer", "WorkspaceData", "main"]

WORKSPACE_ID = "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
Record = dict[str, Any]

AUDIT_SCHEMA = {
    "TenantId": "string",
    "TimeGenerated": "datetime",
    "ActivityDateTime": "datetime",
    "Id": "string",
    "Category": "string",
    "CorrelationId": "string",
    "Result": "string",
    "ResultReason": "string",
    "ResultDescription": "string",
    "ResultType": "string",
    "ActivityDisplayName": "string",
    "OperationName": "string",
    "LoggedByService": "string",
    "AADOperationType": "string",
    "InitiatedBy": "dynamic",
    "TargetResources": "dynamic",
    "AdditionalDetails": "dynamic",
    "Identity": "string",
    "Type": "string",
}
RISK_SCHEMA = {
    "TenantId": "string",
    "TimeGenerated": "datetime",
    "Id": "string",
    "RequestId": "string",
    "CorrelationId": "string",
    "RiskEventType": "string",
    "RiskState": "string",
    "RiskLevel": "string",
    "RiskDetail": "string",
    "Source": "string",
    "DetectionTimingType": "string",
    "Activity": "string",
    "TokenIssuerType": "string",
    "IpAddress": "string",
    "Location": "dynamic",
    "ActivityDateTime": "datetime",
    "DetectedDateTime": "datetime",
    "LastUpdatedDateTime": "datetime",
    "UserId": "string",
    "UserDisplayName": "string",
    "UserPrincipalName": "string",
    "AdditionalInfo": "dynamic",
    "OperationName": "string",
    "Type": "string",
}


def _dynamic(value: Any) -> str:
    return "" if value is None else json.dumps(value, separators=(",", ":"))


def _pascal(name: str) -> str:
    return name[0].upper() + name[1:]


@dataclass
class WorkspaceData:
    """The workspace's tables (see :mod:`tests.support.log_analytics_kql`). Rows are dicts of Kusto values."""

    tables: dict[str, Table] = field(default_factory=dict)

    @classmethod
    def from_demo(
        cls,
        tenant: Any,
        *,
        step_column: str = "ResultReason",
        delay: timedelta = timedelta(minutes=2),
        tables: Iterable[str] = ("AuditLogs", "AADUserRiskEvents"),
    ) -> WorkspaceData:
        """The demo tenant's audit events and risk detections as a workspace holds them; the SSPR step text in
        ``step_column`` (``ResultReason`` or ``ResultDescription``; the other column empty)."""
        if step_column not in ("ResultReason", "ResultDescription"):
            raise ValueError("step_column is ResultReason or ResultDescription")
        ticks = int(delay.total_seconds() * 10_000_000)
        tenant_id = str(getattr(tenant, "tenant_id", ""))
        wanted = set(tables)
        out: dict[str, Table] = {}
        if "AuditLogs" in wanted:
            out["AuditLogs"] = Table(
                "AuditLogs",
                AUDIT_SCHEMA,
                [_audit_row(r, tenant_id, ticks, step_column) for r in tenant.directory_audits()],
                "ActivityDateTime",
            )
        if "AADUserRiskEvents" in wanted:
            rows = [_risk_row(r, tenant_id, ticks) for r in _risk_versions(tenant)]
            out["AADUserRiskEvents"] = Table("AADUserRiskEvents", RISK_SCHEMA, rows, "LastUpdatedDateTime")
        return cls(out)

    def rows(self, table: str) -> int:
        return len(self.tables[table].rows) if table in self.tables else 0


def _audit_row(r: Record, tenant_id: str, delay: int, step_column: str) -> Record:
    when = parse_datetime(str(r["activityDateTime"]).rstrip("Z"))
    reason = str(r.get("resultReason") or "")
    return {
        "TenantId": tenant_id,
        "TimeGenerated": when + delay,
        "ActivityDateTime": when,
        "Id": r.get("id") or "",
        "Category": r.get("category") or "",
        "CorrelationId": r.get("correlationId") or "",
        "Result": r.get("result") or "",
        "ResultReason": reason if step_column == "ResultReason" else "",
        "ResultDescription": reason if step_column == "ResultDescription" else "",
        "ResultType": "",
        "ActivityDisplayName": r.get("activityDisplayName") or "",
        "OperationName": r.get("activityDisplayName") or "",
        "LoggedByService": r.get("loggedByService") or "",
        "AADOperationType": r.get("operationType") or "",
        "InitiatedBy": _dynamic(r.get("initiatedBy")),
        "TargetResources": _dynamic(r.get("targetResources")),
        "AdditionalDetails": _dynamic(r.get("additionalDetails")),
        "Identity": str(((r.get("initiatedBy") or {}).get("user") or {}).get("displayName") or ""),
        "Type": "AuditLogs",
    }


def _risk_versions(tenant: Any) -> list[Record]:
    """Every version of every risk detection the workspace received: the first, and the later one if it changed."""
    history = tenant._data()  # the demo's risks with their changes (a test helper may look inside)
    out = []
    for risk in history.risks:
        out.append(risk.first)
        if risk.change is not None and risk.later:
            out.append(risk.later)
    return out


def _risk_row(r: Record, tenant_id: str, delay: int) -> Record:
    row: Record = {"TenantId": tenant_id, "Type": "AADUserRiskEvents", "OperationName": "User Risk Detection"}
    for name, kind in RISK_SCHEMA.items():
        if name in row or name == "TimeGenerated":
            continue
        value = r.get(name[0].lower() + name[1:])
        if kind == "datetime":
            row[name] = None if not value else parse_datetime(str(value).rstrip("Z"))
        elif kind == "dynamic":
            row[name] = value if isinstance(value, str) else _dynamic(value)
        else:
            row[name] = "" if value is None else str(value)
    row["TimeGenerated"] = row["LastUpdatedDateTime"] + delay
    return row


@dataclass
class Fault:
    """Answer the next ``times`` queries whose text contains ``match`` with ``status`` (an error), or, with
    ``partial``, with half their rows and the error ``partial`` (a reason other than the response caps)."""

    status: int = 500
    times: int = 1
    match: str = ""
    retry_after: float | None = None
    partial: str = ""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    workspace: LogAnalyticsServer


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        status, payload, headers = self.server.workspace.handle(self.path, dict(self.headers.items()), body)
        data = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def _error(code: str, message: str, inner: Iterable[tuple[str, str]] = ()) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "code": code, "correlationId": str(uuid.uuid4())}
    at = error
    for inner_code, inner_message in inner:
        at["innererror"] = {"code": inner_code, "message": inner_message}
        at = at["innererror"]
    return {"error": error}


class LogAnalyticsServer:
    """The endpoint; use as a context manager. ``url`` is the base URL (``http://127.0.0.1:PORT/v1``)."""

    def __init__(
        self,
        data: WorkspaceData,
        *,
        workspace_id: str = WORKSPACE_ID,
        token: str | None = None,
        max_rows: int = 500_000,
        max_bytes: int = 64_000_000,
        throttle: tuple[int, float] | None = (200, 30.0),
        retry_after: float = 1.0,
        now: str | None = None,
        log: str | Path | None = None,
        port: int = 0,
    ) -> None:
        self.data = data
        self.workspace_id = workspace_id
        self.token = token
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self.throttle, self.retry_after = throttle, retry_after
        #: Rows received after this moment (ticks; ``TimeGenerated``) are not in the workspace yet.
        self.now = parse_datetime(now.rstrip("Z")) if now else None
        self.log_path = Path(log) if log else None
        self.port = port
        self.queries: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.denied = False
        self._arrivals: list[float] = []
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> LogAnalyticsServer:
        self._httpd = _HTTPServer(("127.0.0.1", self.port), _Handler)
        self._httpd.workspace = self
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> LogAnalyticsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def deny(self) -> None:
        """Answer every query 403, as for an identity without a role on the workspace."""
        self.denied = True

    def data_queries(self, table: str | None = None) -> list[dict[str, Any]]:
        """The queries logged that read rows (not histograms, oldest-row or probe queries)."""
        return [
            q for q in self.queries if "| project Id" in q["query"] and (table is None or q["query"].startswith(table))
        ]

    # ----------------------------------------------------------------------------------------- answering
    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return 400, _error("BadArgumentError", "The request body is not valid JSON"), {}
        query = str(request.get("query") or "")
        entry: dict[str, Any] = {"path": path, "query": query, "timespan": request.get("timespan")}
        status, payload, extra = self._answer(path, headers, request, query)
        entry["status"] = status
        entry["rows"] = sum(len(t["rows"]) for t in payload.get("tables", []))
        entry["partial"] = "error" in payload and status == 200
        with self._lock:
            self.queries.append(entry)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry) + "\n")
        return status, payload, extra

    def _answer(
        self, path: str, headers: dict[str, str], request: dict[str, Any], query: str
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        parts = path.split("?")[0].strip("/").split("/")
        if len(parts) != 4 or parts[0] != "v1" or parts[1] != "workspaces" or parts[3] != "query":
            return 404, _error("PathNotFoundError", f"The requested path does not exist: {path}"), {}
        if (
            self.token is not None
            and headers.get("Authorization", headers.get("authorization")) != f"Bearer {self.token}"
        ):
            return 401, _error("AuthorizationRequiredError", "Valid authentication was not provided"), {}
        if parts[2] != self.workspace_id:
            return 404, _error("WorkspaceNotFoundError", f"Workspace {parts[2]} was not found"), {}
        if self.denied:
            return (
                403,
                _error(
                    "InsufficientAccessError",
                    "The provided credentials have insufficient access to perform the requested operation",
                ),
                {},
            )
        throttled = self._throttled()
        if throttled:
            return (
                429,
                _error("ThrottledError", "Too many requests; retry later"),
                {"Retry-After": f"{self.retry_after:g}"},
            )
        fault = self._fault(query)
        if fault is not None and not fault.partial:
            extra = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            return fault.status, _error("ServiceError", f"injected fault {fault.status}"), extra
        try:
            result = run(query, self.data.tables, self._timespan(request.get("timespan")))
        except KqlError as exc:
            return (
                400,
                _error(
                    "BadArgumentError",
                    "The request had some invalid properties",
                    [
                        (
                            exc.code,
                            "A semantic error occurred."
                            if exc.code == "SemanticError"
                            else "A recognition error occurred.",
                        ),
                        ("SEM0100" if exc.code == "SemanticError" else "SYN0002", str(exc)),
                    ],
                ),
                {},
            )
        columns, rows = output_rows(result)
        table = {"name": "PrimaryResult", "columns": columns, "rows": rows}
        if fault is not None:
            table["rows"] = rows[: len(rows) // 2]
            return 200, {"tables": [table], "error": self._partial("EngineError", fault.partial)}, {}
        if len(rows) > self.max_rows:
            table["rows"] = rows[: self.max_rows]
            reason = (
                f"Query result set has exceeded the internal record count limit {self.max_rows} records "
                "(E_QUERY_RESULT_SET_TOO_LARGE)."
            )
            return 200, {"tables": [table], "error": self._partial("-2133196797", reason)}, {}
        size = len(json.dumps(rows, separators=(",", ":")))
        if size > self.max_bytes:
            keep = max(0, int(len(rows) * self.max_bytes / size) - 1)
            table["rows"] = rows[:keep]
            reason = (
                f"Query result set has exceeded the internal data size limit {self.max_bytes} bytes "
                "(E_QUERY_RESULT_SET_TOO_LARGE)."
            )
            return 200, {"tables": [table], "error": self._partial("-2133196797", reason)}, {}
        return 200, {"tables": [table]}, {}

    @staticmethod
    def _partial(code: str, message: str) -> dict[str, Any]:
        return {
            "code": "PartialError",
            "message": "There were some errors when processing your query.",
            "details": [
                {
                    "code": "EngineError",
                    "message": "Something went wrong processing your query on the server.",
                    "innererror": {"code": code, "message": message, "severity": 2, "severityName": "Error"},
                }
            ],
        }

    def _timespan(self, text: Any) -> tuple[int, int] | None:
        if not text:
            lo, hi = 0, 1 << 62
        else:
            start, _, end = str(text).partition("/")
            lo, hi = (parse_datetime(x.replace("+00:00", "").rstrip("Z")) for x in (start, end))
        if self.now is not None:
            hi = min(hi, self.now + 1)
        return lo, hi

    def _throttled(self) -> bool:
        if self.throttle is None:
            return False
        limit, window = self.throttle
        with self._lock:
            now = time.monotonic()
            self._arrivals = [t for t in self._arrivals if now - t < window]
            if len(self._arrivals) >= limit:
                return True
            self._arrivals.append(now)
            return False

    def _fault(self, query: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.match in query:
                    fault.times -= 1
                    return fault
        return None


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.support.log_analytics_server --port 0``: serve the demo tenant's workspace until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.log_analytics_server", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--users", type=int, default=2000, help="demo tenant size")
    parser.add_argument("--weeks", type=int, default=26, help="weeks of demo history")
    parser.add_argument("--step-column", default="ResultReason", choices=("ResultReason", "ResultDescription"))
    parser.add_argument("--max-rows", type=int, default=500_000, help="rows one answer may hold")
    parser.add_argument("--token", default=None, help="require 'Authorization: Bearer TOKEN'")
    parser.add_argument("--log", default=None, help="write each query received to this file as a JSON line")
    args = parser.parse_args(argv)
    from sspr_review.sources.demo.tenant import DemoTenant

    tenant = DemoTenant(users=args.users, weeks=args.weeks)
    data = WorkspaceData.from_demo(tenant, step_column=args.step_column)
    server = LogAnalyticsServer(data, token=args.token, max_rows=args.max_rows, log=args.log, port=args.port)
    return serve_until_stopped(
        server,
        lambda url: (
            f"export SSPR_REVIEW_LOG_ANALYTICS_URL={url} SSPR_REVIEW_LOG_ANALYTICS_WORKSPACE_ID={WORKSPACE_ID}"
            f"   # {data.rows('AuditLogs')} AuditLogs rows, {data.rows('AADUserRiskEvents')} AADUserRiskEvents rows"
        ),
    )


if __name__ == "__main__":
    raise SystemExit(main())
