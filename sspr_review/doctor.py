"""``sspr-review doctor``: is this installation ready for a scheduled run? One line per check, with the fix.

Checks: the configuration; a token; each Graph source with a minimal request (ok, missing permission, missing
licence; the role groups' members by listing one group, GroupMember.Read.All); which ``loggedByService`` value
returns SSPR's events (and what the store chose), or, with none, whether SSPR-enabled users make that the SSPR audit
opt-in trap; with a Log Analytics workspace configured, each table with a ``take 1`` (ok, missing role, missing
table); with ``[sources]`` reading an archive, each storage container (one blob listed and read); the SMTP relay
(connect, TLS, login, no mail sent) when ``[mail] transport = "smtp"`` and recipients are set; with recipients and
``[mail] charts``, kaleido (the ``[mail]`` extra) and Chromium for the e-mail's chart images; the report notebooks,
the report template and a Python kernel (what ``run`` needs besides data).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kiota_abstractions.base_request_configuration import RequestConfiguration

from .app import unobserved
from .core.config import Config
from .core.errors import (
    AccessDenied,
    AuthError,
    ConfigError,
    MailError,
    SsprReviewError,
    TableMissing,
    TokenRejected,
    ToolchainMissing,
    WorkspaceNotFound,
    WrongTenant,
)
from .hints import NO_CONFIG, credential_fix
from .ingest.store import Store
from .mail.chromium import INSTALL_HINT, KALEIDO_HINT, find_chromium, has_kaleido
from .mail.smtp import connect
from .report import notebooks
from .sources import source_kind
from .sources.base import FetchStats, run_sync
from .sources.combined import open_archive
from .sources.graph import endpoints as s
from .sources.graph import sspr_service
from .sources.graph.auth import CredentialTokenProvider, build_credential
from .sources.graph.client import GraphClient, app_budget
from .sources.log_analytics import queries
from .sources.log_analytics.client import CATEGORIES, WorkspaceClient


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    #: What the failure said in full when ``detail`` shortens it (a credential chain): shown with ``--verbose``.
    more: str = ""

    def line(self, *, verbose: bool = False) -> str:
        mark = "ok  " if self.ok else "FAIL"
        fix = f"\n       fix: {self.fix}" if self.fix and not self.ok else ""
        more = "".join(f"\n         {line.strip()}" for line in self.more.splitlines() if line.strip())
        return f"[{mark}] {self.name}: {self.detail}{fix}{more if verbose else ''}"


def _probes(client: Any) -> list[tuple[str, Any, Any]]:
    """(name, endpoint, request) for the smallest request each source answers."""
    from msgraph.generated.audit_logs.directory_audits.directory_audits_request_builder import (
        DirectoryAuditsRequestBuilder as Audits,  # lazy: msgraph-sdk takes about a second to import
    )
    from msgraph.generated.groups.groups_request_builder import (
        GroupsRequestBuilder as Groups,  # lazy: msgraph-sdk takes about a second to import
    )
    from msgraph.generated.identity_protection.risk_detections.risk_detections_request_builder import (
        RiskDetectionsRequestBuilder as Risk,  # lazy: msgraph-sdk takes about a second to import
    )
    from msgraph.generated.reports.authentication_methods.user_registration_details.user_registration_details_request_builder import (  # noqa: E501
        UserRegistrationDetailsRequestBuilder as Registration,  # lazy: msgraph-sdk takes about a second to import
    )
    from msgraph.generated.role_management.directory.role_assignments.role_assignments_request_builder import (
        RoleAssignmentsRequestBuilder as Roles,  # lazy: msgraph-sdk takes about a second to import
    )

    sdk = client.sdk
    nobody = "id eq '00000000-0000-0000-0000-000000000000'"
    return [
        (
            "audit (directoryAudits)",
            s.AUDITS,
            sdk.audit_logs.directory_audits.to_get_request_information(
                RequestConfiguration(query_parameters=Audits.DirectoryAuditsRequestBuilderGetQueryParameters(top=1))
            ),
        ),
        (
            "risk (riskDetections)",
            s.RISK,
            sdk.identity_protection.risk_detections.to_get_request_information(
                RequestConfiguration(query_parameters=Risk.RiskDetectionsRequestBuilderGetQueryParameters(top=1))
            ),
        ),
        (
            "registration (userRegistrationDetails)",
            s.REGISTRATION,
            sdk.reports.authentication_methods.user_registration_details.to_get_request_information(
                RequestConfiguration(
                    query_parameters=Registration.UserRegistrationDetailsRequestBuilderGetQueryParameters(filter=nobody)
                )
            ),
        ),
        (
            "roles (roleAssignments)",
            s.ROLE_ASSIGNMENTS,
            sdk.role_management.directory.role_assignments.to_get_request_information(
                RequestConfiguration(query_parameters=Roles.RoleAssignmentsRequestBuilderGetQueryParameters(top=1))
            ),
        ),
        (  # the fetch reads the members of the groups roles are assigned to; listing groups needs the same permission
            "role groups' members (groups)",
            s.GROUP_MEMBERS,
            sdk.groups.to_get_request_information(
                RequestConfiguration(
                    query_parameters=Groups.GroupsRequestBuilderGetQueryParameters(top=1, select=["id"])
                )
            ),
        ),
        (
            "PIM eligibility (roleEligibilityScheduleInstances)",
            s.ROLE_ELIGIBILITY,
            sdk.role_management.directory.role_eligibility_schedule_instances.to_get_request_information(),
        ),
        ("password protection (groupSettings)", s.GROUP_SETTINGS, sdk.group_settings.to_get_request_information()),
        (
            "authentication methods policy",
            s.AUTH_METHODS_POLICY,
            sdk.policies.authentication_methods_policy.to_get_request_information(),
        ),
        (
            "administrators' SSPR (authorizationPolicy)",
            s.AUTHORIZATION_POLICY,
            sdk.policies.authorization_policy.to_get_request_information(),
        ),
    ]


def graph_checks(config: Config) -> list[Check]:
    """A token, then one minimal request per source."""
    try:
        credential = build_credential(config.auth)
    except AuthError as exc:
        return [Check("credential", False, str(exc), credential_fix(config))]

    async def go() -> list[Check]:
        out: list[Check] = []
        settings = config.graph.model_copy(update={"max_retries": 1})
        tenant = config.auth.tenant_id
        async with GraphClient(settings, credential, budget=app_budget(config), tenant_id=tenant) as client:
            try:
                await CredentialTokenProvider(credential, config.graph.base_url, tenant).get_authorization_token(
                    config.graph.base_url
                )
            except WrongTenant as exc:
                return [Check("token", False, str(exc), "use a credential for the tenant [auth] tenant_id names")]
            except AuthError as exc:
                return [Check("token", False, str(exc), credential_fix(config), exc.detail)]
            out.append(Check("token", True, f"acquired for {config.graph.base_url}"))
            for name, endpoint, request in _probes(client):
                try:
                    await client.get_json(request, endpoint, FetchStats(), name)
                except TokenRejected as exc:  # the same for every source: said once
                    out[0] = Check("token", False, str(exc), "check [auth] and the credential named above")
                    break
                except SsprReviewError as exc:
                    kind = getattr(exc, "kind", "error")
                    fix = {
                        "permission": f"add the application permission {endpoint.permission} and grant admin consent",
                        "licence": f"this source needs {endpoint.licence}; without it the report shows it as no data",
                    }.get(kind, "check connectivity to Microsoft Graph and try again")
                    out.append(Check(name, False, str(exc), fix))
                else:
                    out.append(Check(name, True, f"readable ({endpoint.permission})"))
            if all(c.ok for c in out[:2]):  # the token and the audit source: look for SSPR's events
                out.append(await sspr_events_check(client, config))
        return out

    return run_sync(go())


async def sspr_events_check(client: GraphClient, config: Config) -> Check:
    """Which ``loggedByService`` value returns SSPR's events on this tenant (one ``$top=1`` request each, over
    the audit look-back), what the store recorded, and the opt-in trap: no SSPR event while users are SSPR-enabled
    (see :mod:`sspr_review.app.unobserved`)."""
    from msgraph.generated.audit_logs.directory_audits.directory_audits_request_builder import (
        DirectoryAuditsRequestBuilder as Audits,  # lazy: msgraph-sdk takes about a second to import
    )
    from msgraph.generated.reports.authentication_methods.user_registration_details.user_registration_details_request_builder import (  # noqa: E501
        UserRegistrationDetailsRequestBuilder as Registration,  # lazy: msgraph-sdk takes about a second to import
    )

    name, days = "SSPR audit events", config.graph.audit_lookback_days
    since = s.graph_time(datetime.now(UTC) - timedelta(days=days))

    async def ask(clause: str) -> bool:
        query = Audits.DirectoryAuditsRequestBuilderGetQueryParameters(
            filter=f"{clause} and activityDateTime ge {since}", top=1
        )
        request = client.sdk.audit_logs.directory_audits.to_get_request_information(
            RequestConfiguration(query_parameters=query)
        )
        return bool((await client.get_json(request, s.AUDITS, FetchStats(), name)).get("value"))

    try:
        found = await sspr_service.probe(ask)  # the fetch's own probe: each value, one $top=1 request
        kept = Store(config.store_path(), source_kind("graph").store_key(config)).selection("audit")
        store = f"; the store's fetches: {kept}" if kept else "; the store has not fetched audit events yet"
        values = [f"'{v}'" for v, ok in found.items() if ok]
        if values:
            return Check(name, True, f"in the last {days} days under loggedByService {' and '.join(values)}{store}")
        enabled_query = Registration.UserRegistrationDetailsRequestBuilderGetQueryParameters(
            filter="isSsprEnabled eq true"
        )
        request = client.sdk.reports.authentication_methods.user_registration_details.to_get_request_information(
            RequestConfiguration(query_parameters=enabled_query)
        )
        enabled = bool((await client.get_json(request, s.REGISTRATION, FetchStats(), name)).get("value"))
    except SsprReviewError as exc:
        return Check(name, False, f"could not look for SSPR's events: {exc}", "check the audit source above")
    if enabled:
        detail = (
            f"no SSPR event in the last {days} days under loggedByService 'Self-service Password Management' or"
            " 'SSPR', although users are SSPR-enabled: SSPR's audit data is likely not being gathered (reviews"
            " would call unobserved weeks quiet)"
        )
        return Check(name, False, detail, unobserved.FIX)
    return Check(
        name,
        False,
        f"no SSPR event in the last {days} days and no SSPR-enabled user",
        "enable SSPR for your users (Protection ▸ Password reset ▸ Properties), or check AuditLog.Read.All",
    )


def log_analytics_checks(config: Config) -> list[Check]:
    """One ``take 1`` per workspace table: ok, missing role (Log Analytics Reader), missing table (no diagnostic
    setting sends it), or the workspace itself not found."""
    settings = config.log_analytics.model_copy(update={"max_retries": 1, "retry_backoff_seconds": 0.5})
    try:
        credential = build_credential(config.auth)
    except AuthError as exc:
        return [Check("Log Analytics credential", False, str(exc), "set [auth] mode and what it needs")]

    async def go() -> list[Check]:
        client = WorkspaceClient(settings, credential)
        out: list[Check] = []
        try:
            for table in queries.TABLES:
                name = f"Log Analytics {table}"
                try:
                    await client.query(queries.probe(table), None, FetchStats(), "doctor", table)
                except AccessDenied as exc:
                    out.append(
                        Check(name, False, f"missing role: {exc}", "assign Log Analytics Reader on the workspace")
                    )
                except TableMissing as exc:
                    fix = f"add a diagnostic setting sending {CATEGORIES[table]} to the workspace"
                    out.append(Check(name, False, f"missing table: {exc}", fix))
                except WorkspaceNotFound as exc:
                    out.append(Check(name, False, str(exc), "check [log_analytics] workspace_id and endpoint"))
                except SsprReviewError as exc:
                    out.append(Check(name, False, str(exc), "check [log_analytics] endpoint and connectivity"))
                else:
                    out.append(Check(name, True, f"readable in workspace {settings.workspace_id}"))
        finally:
            client.close()
        return out

    return run_sync(go())


def archive_checks(config: Config) -> list[Check]:
    """Per archive container ``[sources]`` reads: list one blob of it and read its first byte (ok, missing
    container, the Storage Blob Data Reader role missing, an unreachable account)."""
    from .sources.archive.storage import explain  # lazy: azure-storage-blob is heavy

    chosen = config.sources
    kinds = [k for k in ("audit", "risk") if getattr(chosen, k) == "archive"]
    try:
        source: Any = open_archive(config, clock=None, credential=lambda: build_credential(config.auth))
    except (AuthError, ConfigError) as exc:
        return [
            Check(
                "archive",
                False,
                str(exc),
                "set [archive] account_url and [auth] (README: Archived logs in Azure Storage)",
            )
        ]
    out = []
    for kind in kinds:
        name = f"archive {source.container(kind)}"
        try:
            container = source.client().get_container_client(source.container(kind))
            first = next(iter(container.list_blobs(results_per_page=1)), None)
            if first is None:
                out.append(
                    Check(name, False, "the container holds no blob", "check the diagnostic setting's categories")
                )
                continue
            container.download_blob(first.name, offset=0, length=1).readall()
        except Exception as exc:  # the storage client's errors, explained as the fetch would
            error = explain(exc, source.where(kind), kind)
            out.append(Check(name, False, str(error), _archive_fix(error)))
        else:
            out.append(Check(name, True, f"readable in {source.account} (first blob {first.name})"))
    return out


def _archive_fix(error: Exception) -> str:
    if isinstance(error, AccessDenied):
        return "assign the Storage Blob Data Reader role on the account or container"
    return "check [archive] account_url and the container names"


def smtp_check(config: Config, env: Mapping[str, str]) -> Check:
    """Connect, negotiate TLS and log in through :func:`sspr_review.mail.smtp.connect`, sending nothing."""
    mail = config.mail
    name = f"SMTP {mail.smtp_host}:{mail.smtp_port}"
    try:
        with connect(mail, env):
            pass
    except MailError as exc:
        detail, fix = {
            "plain": ("plain SMTP is configured for a remote relay", "use smtp_security = 'starttls' or 'tls'"),
            "starttls": ("the relay does not offer STARTTLS", "use smtp_security = 'tls' or another relay"),
            "login": (
                f"login refused ({exc.code})",
                f"check {mail.smtp_username_env} and {mail.smtp_password_env}",
            ),
        }.get(exc.kind, (exc.reason or str(exc), "check [mail] smtp_host, smtp_port and the firewall"))
        return Check(name, False, detail, fix)
    user = env.get(mail.smtp_username_env, "")
    if user:
        return Check(name, True, f"connected ({mail.smtp_security}) and logged in as {user}")
    return Check(name, True, f"connected ({mail.smtp_security}); no login configured")


def kaleido_check(find_spec: Callable[[str], Any] | None = None) -> Check:
    """kaleido, the ``[mail]`` extra that draws the e-mail's chart images."""
    name = "kaleido ([mail] extra, e-mail charts)"
    if has_kaleido(find_spec):
        return Check(name, True, "installed")
    return Check(name, False, "not installed: e-mails would go without chart images", KALEIDO_HINT)


def chromium_check(which: Callable[[str], str | None] | None = None) -> Check:
    browser = find_chromium(which=which)
    if browser:
        return Check("Chromium (e-mail charts)", True, browser)
    return Check("Chromium (e-mail charts)", False, "not found: e-mails go without chart images", INSTALL_HINT)


def toolchain_checks() -> list[Check]:
    """The packaged notebooks (readable), the nbconvert report template and a Python kernel with ipykernel."""
    import nbformat  # lazy: nbformat loads jsonschema (about a second); only this check needs it

    checks = []
    try:
        found = notebooks.packaged_notebooks()
        for path in found.values():
            nbformat.validate(nbformat.read(path, as_version=4))  # type: ignore[no-untyped-call]
        checks.append(Check("report notebooks", True, f"{len(found)} in {notebooks.notebooks_dir()}"))
    except ToolchainMissing as exc:
        checks.append(Check("report notebooks", False, str(exc), notebooks.REINSTALL))
    except (OSError, ValueError, nbformat.ValidationError) as exc:
        checks.append(Check("report notebooks", False, f"unreadable: {exc}", notebooks.REINSTALL))
    try:
        checks.append(Check("report template", True, str(notebooks.template_dir() / notebooks.TEMPLATE)))
    except ToolchainMissing as exc:
        checks.append(Check("report template", False, str(exc), notebooks.REINSTALL))
    try:
        python = notebooks.kernel_python()
        checks.append(Check("Python kernel", True, f"{notebooks.KERNEL!r} runs {python}"))
    except ToolchainMissing as exc:
        checks.append(Check("Python kernel", False, str(exc), f"pip install ipykernel (into {sys.prefix})"))
    return checks


def run_checks(config: Config, env: dict[str, str], *, graph: bool = True) -> list[Check]:
    read = str(Path(config.source_path).resolve()) if config.source_path else f"none: {NO_CONFIG}"
    checks = [Check("configuration", True, read)]
    checks += toolchain_checks()
    if graph:
        checks += graph_checks(config)
    sources = config.sources
    if config.log_analytics.workspace_id or "log_analytics" in (sources.audit, sources.risk):
        checks += log_analytics_checks(config)
    if "archive" in (sources.audit, sources.risk):
        checks += archive_checks(config)
    if config.mail.to:
        if config.mail.transport == "smtp":
            checks.append(smtp_check(config, env))
        else:
            checks.append(Check("Graph sendMail", True, f"as {config.mail.sender} (Mail.Send is checked when sending)"))
        if config.mail.charts:  # e-mail charts are configured: what draws them
            checks += [kaleido_check(), chromium_check()]
    return checks
