"""The emailed weekly review: one message that reads well in Outlook and Gmail (which run no JavaScript).

Structure::

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain                     the same content as text
    │   └── multipart/related
    │       ├── text/html                  coverage, needs attention with actions, KPIs, <img src="cid:...">
    │       └── image/png (Content-ID) ×N  charts rendered by kaleido through a local Chromium
    └── application/zip attachments        weekly-review.zip, adoption-trends.zip (the interactive HTML)

Everything is built from a report folder written by ``sspr-review run`` (findings.json and charts.json), so
``sspr-review email <folder>`` can send an earlier run. All tenant text is escaped. With ``[mail]
pseudonymise`` user identifiers in the body become keyed HMACs and the attachments (which name users) are left
out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import os
import re
import shutil
import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from ..analysis.settings import AnalysisSettings
from ..catalog import KPIS
from ..config import LOOPBACK_HOSTS, MailSettings
from ..errors import ConfigError, InputError, MailError
from ..report.rollup import Rollup, distinct, roll_up, status_counts
from ..report.style import BANNER, SEVERITY_COLOURS

log = logging.getLogger(__name__)

#: The report's badge colours, inline (mail clients drop <style> blocks).
COLORS = SEVERITY_COLOURS
CHART_TITLES = {
    "resets_per_hour": "Accounts completing a reset per hour",
    "resets_per_day": "Self-service versus helpdesk resets per day",
    "registration": "Registration coverage per week",
}
#: Microsoft Graph sendMail accepts requests up to 4 MB; base64 grows attachments by a third.
GRAPH_REQUEST_LIMIT = 4 * 1024 * 1024
#: The largest message sent over SMTP (bytes as sent, base64 included): many relays and mailboxes refuse
#: more. Each HTML report is about 5 MB (plotly.js is embedded for offline charts), about 1.5 MB zipped.
MESSAGE_LIMIT = 5_000_000


@dataclass
class ReportFolder:
    """What ``sspr-review run`` wrote for one week."""

    folder: Path
    findings: dict[str, Any]
    charts: dict[str, Any]
    attachments: list[Path] = field(default_factory=list)

    @classmethod
    def load(cls, folder: Path) -> ReportFolder:
        path = folder / "findings.json"
        try:
            findings = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{folder} has no findings.json: is it a report folder of 'sspr-review run'?") from None
        except ValueError as exc:
            raise InputError(f"{path} is not valid JSON ({exc})") from None
        charts_path = folder / "charts.json"
        charts = json.loads(charts_path.read_text(encoding="utf-8")) if charts_path.exists() else {}
        return cls(folder, findings, charts)


def pseudonym(key: bytes, value: str) -> str:
    """A stable keyed pseudonym for a user identifier (HMAC-SHA256, case-insensitive)."""
    digest = hmac.new(key, value.strip().lower().encode(), hashlib.sha256).hexdigest()
    return f"user-{digest[:12]}"


class _Identities:
    """Replaces user identifiers with pseudonyms when a key is given."""

    def __init__(self, key: bytes | None, findings: list[dict[str, Any]]) -> None:
        self.key = key
        users = {u for f in findings for u in f.get("users", []) if isinstance(u, str) and u}
        self._pattern = (
            re.compile("|".join(re.escape(u) for u in sorted(users, key=len, reverse=True)), re.IGNORECASE)
            if key and users
            else None
        )

    def user(self, value: str) -> str:
        return pseudonym(self.key, value) if self.key else value

    def text(self, value: str) -> str:
        if self._pattern is None or self.key is None:
            return value
        key = self.key
        return self._pattern.sub(lambda m: pseudonym(key, m.group(0)), value)


def _fmt(value: Any, unit: str) -> str:
    if value is None:
        return "no data"
    if unit == "ratio":
        return f"{value:.0%}"
    if unit == "currency":
        return f"{value:,.0f}"
    return f"{value:,}"


def subject(settings: MailSettings, findings: Mapping[str, Any]) -> str:
    items = findings.get("findings", [])
    fields = {
        "tenant": str(findings.get("tenant", {}).get("name", "")),
        "week_ending": str(findings.get("window", {}).get("week_ending", "")),
        "critical_count": sum(1 for f in items if f.get("severity") == "critical"),
        "high_count": sum(1 for f in items if f.get("severity") in ("critical", "high")),
        "findings_count": len(items),
    }
    text = settings.subject.format(**fields)
    return " ".join(text.split())  # no header injection through tenant text


def render_charts(charts: Mapping[str, Any]) -> tuple[list[tuple[str, bytes]], str | None]:
    """PNG images of the report's charts via kaleido, or ([], why not)."""
    if not charts:
        return [], "the report folder has no charts.json"
    browser = os.environ.get("BROWSER_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        return [], "no Chromium for kaleido to render charts (apt-get install chromium, or set BROWSER_PATH)"
    try:
        import kaleido
        import plotly.io as pio

        os.environ.setdefault("BROWSER_PATH", browser)
        kaleido.start_sync_server(silence_warnings=True)
        try:
            images = []
            for name, spec in charts.items():
                fig = pio.from_json(json.dumps(spec))
                fig.update_layout(width=760, height=340, margin={"l": 50, "r": 20, "t": 50, "b": 40})
                images.append((name, kaleido.calc_fig_sync(fig, opts={"format": "png", "width": 760, "height": 340})))
        finally:
            kaleido.stop_sync_server(silence_warnings=True)
    except Exception as exc:  # kaleido/Chromium failures must not stop the mail
        return [], f"chart rendering failed ({type(exc).__name__}: {exc})"
    return images, None


def _body(
    report: ReportFolder, ids: _Identities, images: list[tuple[str, str]], attached: list[str], notes: list[str]
) -> tuple[str, str]:
    """(HTML, plain text) of the message body. ``images`` are (name, content id)."""
    doc = report.findings
    e = html.escape
    tenant = str(doc.get("tenant", {}).get("name", ""))
    window = doc.get("window", {})
    week = str(window.get("week_ending", ""))
    coverage = doc.get("coverage", {})
    missing = [
        (name, "; ".join([*([c["reason"]] if c.get("reason") else []), *c.get("missing", [])]))
        for name, c in coverage.items()
        if not c.get("complete")
    ]
    approximate = [(name, c.get("reason") or "") for name, c in coverage.items() if c.get("approximate")]
    items = [f for f in doc.get("findings", []) if f.get("severity") != "info"]
    info = [f for f in doc.get("findings", []) if f.get("severity") == "info"]
    metrics = doc.get("metrics", {})

    h = [
        "<div style='font-family:Segoe UI,Arial,sans-serif;font-size:14px;color:#202124;max-width:820px'>",
        f"<h2 style='margin:0 0 4px'>SSPR weekly review — {e(tenant)}</h2>",
        f"<p style='margin:0 0 12px;color:#5f6368'>Week ending {e(week)} 00:00 {e(str(window.get('time_zone')))}</p>",
    ]
    t = [f"SSPR weekly review — {tenant}", f"Week ending {week}", ""]
    if missing:
        text = "; ".join(f"{name}: {reason}" for name, reason in missing)
        h.append(
            f"<p style='background:{BANNER['bad'][0]};border:{BANNER['bad'][1]};padding:8px;font-weight:bold'>"
            f"Data missing for this week: {e(text)}. Findings that depend on it were not evaluated, or say what "
            "they could not rule out.</p>"
        )
        t.append(f"DATA MISSING: {text}")
    if approximate:
        text = "; ".join(f"{name}: {reason}" for name, reason in approximate)
        h.append(
            f"<p style='background:{BANNER['warn'][0]};border:{BANNER['warn'][1]};padding:8px'>"
            f"Approximate for this week: {e(text)}.</p>"
        )
        t.append(f"APPROXIMATE: {text}")
    if not missing and not approximate:
        h.append(
            f"<p style='background:{BANNER['ok'][0]};border:{BANNER['ok'][1]};padding:8px'>All sources complete.</p>"
        )
        t.append("Data: all sources complete.")
    h.append("<h3>Needs attention</h3>")
    t += ["", "NEEDS ATTENTION"]
    if not items:
        h.append("<p>No findings that need action this week.</p>")
        t.append("No findings that need action this week.")
    else:
        h.append("<table cellpadding='6' style='border-collapse:collapse;font-size:13px'>")
        threshold = _threshold(doc)
        for f in roll_up(items, threshold, lambda i: str(i.get("kind", "")), lambda i: str(i.get("severity", ""))):
            if isinstance(f, Rollup):
                h_rows, t_rows = _rollup_entry(f, ids)
                h += h_rows
                t += t_rows
                continue
            sev = str(f.get("severity", ""))
            title = ids.text(str(f.get("title", "")))
            users = [ids.user(u) for u in f.get("users", [])]
            shown = ", ".join(users[:6]) + (f" and {len(users) - 6} more" if len(users) > 6 else "")
            action = ids.text(str(f.get("action", "")))
            status = f" ({f['status']})" if f.get("status") else ""
            h.append(
                "<tr style='border-bottom:1px solid #ddd'>"
                f"<td style='vertical-align:top'><span style='background:{COLORS.get(sev, '#5f6368')};color:#fff;"
                f"padding:1px 6px;border-radius:3px'>{e(sev)}</span></td>"
                f"<td><b>{e(title)}</b>{e(status)}<br><small>{e(shown)}</small><br>{e(action)}</td></tr>"
            )
            t += [f"[{sev.upper()}] {title}{status}", f"    users: {shown}", f"    do: {action}"]
        h.append("</table>")
    if info:
        h.append(f"<p>Also {len(info)} informational findings (see the report).</p>")
        t.append(f"Also {len(info)} informational findings.")
    h.append("<h3>This week in numbers</h3><table cellpadding='4' style='border-collapse:collapse;font-size:13px'>")
    h.append("<tr><th align='left'>metric</th><th align='right'>this week</th><th align='right'>last week</th></tr>")
    t += ["", "THIS WEEK IN NUMBERS (this week / last week)"]
    for name, label in KPIS:
        m = metrics.get(name)
        if not isinstance(m, dict):
            continue
        unit = str(m.get("unit", "count"))
        now, before = _fmt(m.get("value"), unit), _fmt(m.get("previous"), unit)
        h.append(
            f"<tr><td>{e(label)}</td><td align='right'><b>{e(now)}</b></td><td align='right'>{e(before)}</td></tr>"
        )
        t.append(f"  {label}: {now} / {before}")
    h.append("</table>")
    for name, cid in images:
        h.append(f"<h3>{e(CHART_TITLES.get(name, name))}</h3><img src='cid:{cid}' width='760' alt='{e(name)}'>")
    footer = (
        f"Attached, zipped: {'; '.join(attached)}. Unzip and open the HTML in a browser: the charts are "
        "interactive and need no internet."
        if attached
        else "The interactive report is not attached; it is in the report folder on the reporting host."
    )
    h.append(f"<p style='color:#5f6368'>{e(footer)}</p>")
    h.extend(f"<p style='color:#5f6368'>{e(n)}</p>" for n in notes)
    h.append("</div>")
    t += ["", footer, *notes]
    return "".join(h), "\n".join(t) + "\n"


def _threshold(doc: Mapping[str, Any]) -> int:
    value = (doc.get("settings") or {}).get("rollup_threshold")
    return value if isinstance(value, int) and not isinstance(value, bool) else AnalysisSettings().rollup_threshold


def _rollup_entry(entry: Rollup[dict[str, Any]], ids: _Identities) -> tuple[list[str], list[str]]:
    """One e-mail entry for many findings of one kind and severity: a table of the users, each new or
    continuing, and the distinct actions. Tenant text is escaped (and pseudonymised when configured)."""
    e = html.escape
    sev = entry.severity
    statuses = [str(f["status"]) if f.get("status") else None for f in entry.items]
    tally = status_counts(statuses)
    cell = "style='padding:2px 8px 2px 0'"
    rows = []
    lines = []
    for f, status in zip(entry.items, statuses, strict=True):
        users = [ids.user(str(u)) for u in f.get("users", [])]
        shown = ", ".join(users) or ids.text(str(f.get("title", "")))
        since = str(f.get("start") or "")[:10]
        rows.append(f"<tr><td {cell}>{e(shown)}</td><td {cell}>{e(status or '')}</td><td {cell}>{e(since)}</td></tr>")
        lines.append(f"    {shown}  {status or ''}  {since}".rstrip())
    actions = distinct([ids.text(str(f.get("action", ""))) for f in entry.items])
    html_rows = [
        "<tr style='border-bottom:1px solid #ddd'>"
        f"<td style='vertical-align:top'><span style='background:{COLORS.get(sev, '#5f6368')};color:#fff;"
        f"padding:1px 6px;border-radius:3px'>{e(sev)}</span></td>"
        f"<td><b>{e(entry.title)}</b>{e(f' ({tally})' if tally else '')}"
        "<table cellpadding='0' style='border-collapse:collapse;font-size:12px;margin:4px 0'>"
        f"<tr><th align='left' {cell}>user</th><th align='left' {cell}>vs last week</th>"
        f"<th align='left' {cell}>since</th></tr>{''.join(rows)}</table>"
        + "<br>".join(e(a) for a in actions)
        + "</td></tr>"
    ]
    text = [f"[{sev.upper()}] {entry.title}" + (f" ({tally})" if tally else ""), *lines]
    text += [f"    do: {a}" for a in actions]
    return html_rows, text


@dataclass
class Composed:
    message: EmailMessage
    notes: list[str]


def compose(
    report: ReportFolder,
    settings: MailSettings,
    *,
    env: Mapping[str, str] | None = None,
    size_limit: int | None = None,
    measure: Callable[[EmailMessage], int] | None = None,
) -> Composed:
    """Build the message, the HTML reports attached zipped. It stays within ``size_limit`` bytes (default
    :data:`MESSAGE_LIMIT`) as ``measure`` counts them (default: the message as sent): an attachment that does
    not fit is left out, and the body says so."""
    env = os.environ if env is None else env
    notes: list[str] = []
    if not settings.to:
        raise ConfigError("[mail] to is empty: set the recipients (or SSPR_REVIEW_MAIL_TO=a@example.com,b@...)")
    if not settings.sender:
        raise ConfigError("[mail] sender is empty: set the From address (for graph: the sending mailbox)")
    key: bytes | None = None
    if settings.pseudonymise:
        secret = env.get(settings.pseudonym_key_env, "")
        if len(secret) < 16:
            raise ConfigError(
                f"[mail] pseudonymise needs a key of at least 16 characters in the environment variable "
                f"{settings.pseudonym_key_env}"
            )
        key = secret.encode()
    ids = _Identities(key, report.findings.get("findings", []))

    attachments: list[tuple[str, bytes, str]] = []  # (file name, content, report inside)
    if key is not None and (settings.attach_html or settings.attach_trends):
        notes.append("The HTML reports are not attached because they name users and the body is pseudonymised.")
    elif settings.attach_html or settings.attach_trends:
        wanted = [("weekly-review.html", settings.attach_html), ("adoption-trends.html", settings.attach_trends)]
        for name, wanted_it in wanted:
            path = report.folder / name
            if wanted_it and path.exists():
                attachments.append((f"{Path(name).stem}.zip", _zip(name, path.read_bytes()), name))

    images: list[tuple[str, bytes]] = []
    if settings.charts:
        images, why = render_charts(report.charts)
        if why:
            notes.append(f"Charts are not shown: {why}.")
            log.warning("e-mail without charts: %s", why)
    cids = [(name, make_msgid(domain="sspr-review.invalid")[1:-1]) for name, _ in images]
    limit = MESSAGE_LIMIT if size_limit is None else size_limit
    size = measure or (lambda m: len(m.as_bytes()))
    left_out: list[str] = []
    while True:
        msg = _message(report, settings, ids, images, cids, attachments, [*notes, *left_out])
        if size(msg) <= limit or not attachments:
            break
        _, _, inside = attachments.pop()  # the trends go first, then the weekly review
        left_out.insert(
            0,
            f"{inside} is not attached: with it the message would exceed {limit / 1e6:.1f} MB; "
            f"it is in the report folder {report.folder.name} on the reporting host.",
        )
    return Composed(msg, [*notes, *left_out])


def _message(
    report: ReportFolder,
    settings: MailSettings,
    ids: _Identities,
    images: list[tuple[str, bytes]],
    cids: list[tuple[str, str]],
    attachments: list[tuple[str, bytes, str]],
    notes: list[str],
) -> EmailMessage:
    attached = [f"{name} ({inside}, {len(content) / 1e6:.1f} MB)" for name, content, inside in attachments]
    body_html, body_text = _body(report, ids, cids, attached, notes)
    msg = EmailMessage()
    msg["Subject"] = subject(settings, report.findings)
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.to)
    if settings.cc:
        msg["Cc"] = ", ".join(settings.cc)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="sspr-review.invalid")
    msg.set_content(body_text)
    msg.add_alternative(body_html, subtype="html")
    html_part = msg.get_body(("html",))
    assert isinstance(html_part, EmailMessage)
    for (name, png), (_, cid) in zip(images, cids, strict=True):
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>", filename=f"{name}.png")
    for name, content, _ in attachments:
        msg.add_attachment(content, maintype="application", subtype="zip", filename=name)
    return msg


def _zip(name: str, content: bytes) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(name, content)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------ transports
def smtp_send(message: EmailMessage, settings: MailSettings, *, env: Mapping[str, str] | None = None) -> None:
    """Send over SMTP: STARTTLS by default, implicit TLS as an option, plain only for an allowed localhost."""
    env = os.environ if env is None else env
    host, port, security = settings.smtp_host, settings.smtp_port, settings.smtp_security
    if security == "none" and not (settings.smtp_allow_plain and host in LOOPBACK_HOSTS):
        raise MailError(
            f"refusing to send mail in clear text to {host}: use smtp_security = 'starttls' or 'tls' "
            "(plain SMTP is allowed only to a localhost relay with smtp_allow_plain = true)"
        )
    context = ssl.create_default_context(cafile=settings.smtp_ca_file or None)
    user, password = env.get(settings.smtp_username_env, ""), env.get(settings.smtp_password_env, "")
    try:
        smtp: smtplib.SMTP
        if security == "tls":
            smtp = smtplib.SMTP_SSL(host, port, timeout=settings.smtp_timeout_seconds, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=settings.smtp_timeout_seconds)
        with smtp:
            smtp.ehlo()
            if security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise MailError(
                        f"{host}:{port} does not offer STARTTLS; refusing to send in clear text "
                        "(use smtp_security = 'tls' for implicit TLS, or a relay that supports STARTTLS)"
                    )
                smtp.starttls(context=context)
                smtp.ehlo()
            if user:
                smtp.login(user, password)
            smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(
            f"SMTP login to {host}:{port} was refused ({exc.smtp_code}); check {settings.smtp_username_env} "
            f"and {settings.smtp_password_env}"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"could not send through {host}:{port}: {type(exc).__name__}: {exc}") from None


def graph_message(message: EmailMessage) -> dict[str, Any]:
    """The Graph ``sendMail`` request body for ``message``: HTML body, inline images, attachments."""
    body = message.get_body(("html",))
    assert body is not None
    attachments = []
    for part in message.walk():
        is_body = part is body or (part.get_content_type() == "text/plain" and not part.get_filename())
        if part.get_content_maintype() == "multipart" or is_body:
            continue
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        cid = str(part.get("Content-ID", "")).strip("<>")
        attachments.append(
            {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": part.get_filename() or "attachment",
                "contentType": part.get_content_type(),
                "contentBytes": base64.b64encode(payload).decode(),
                **({"isInline": True, "contentId": cid} if cid else {"isInline": False}),
            }
        )

    def recipients(header: str) -> list[dict[str, Any]]:
        values = [v.strip() for v in str(message.get(header, "")).split(",") if v.strip()]
        return [{"emailAddress": {"address": v}} for v in values]

    return {
        "message": {
            "subject": str(message["Subject"]),
            "body": {"contentType": "HTML", "content": body.get_content()},
            "toRecipients": recipients("To"),
            "ccRecipients": recipients("Cc"),
            "attachments": attachments,
        },
        "saveToSentItems": False,
    }


def graph_send(message: EmailMessage, settings: MailSettings, ws: Any) -> None:
    """Send through Microsoft Graph ``POST /users/{sender}/sendMail`` (permission Mail.Send)."""
    from kiota_abstractions.method import Method
    from kiota_abstractions.request_information import RequestInformation

    from ..ingest.fetch import run_sync
    from ..sources.base import FetchStats
    from ..sources.graph.auth import build_credential
    from ..sources.graph.client import GraphClient, app_budget
    from ..sources.graph.endpoints import Endpoint

    body = json.dumps(graph_message(message)).encode()
    if len(body) > GRAPH_REQUEST_LIMIT:
        raise MailError(
            f"the message is {len(body) / 1e6:.1f} MB; Graph sendMail accepts 4 MB (set attach_trends = false)"
        )
    endpoint = Endpoint("users/{sender}/sendMail", "directory", "Mail.Send")

    async def go() -> None:
        async with GraphClient(
            ws.config.graph, build_credential(ws.config.auth), budget=app_budget(ws.config)
        ) as client:
            request = RequestInformation(
                Method.POST, "{+baseurl}/users/{user_id}/sendMail", {"user_id": settings.sender}
            )
            request.set_stream_content(body, "application/json")
            await client.get_json(request, endpoint, FetchStats(), "mail")

    run_sync(go())


def save_eml(message: EmailMessage, folder: Path) -> Path:
    """``--dry-run``: write the message as a .eml file into the report folder (owner-only)."""
    from ..ingest.store import write_private_text

    path = folder / "weekly-review.eml"
    write_private_text(path, message.as_string())
    return path


def send(report: ReportFolder, settings: MailSettings, ws: Any, *, dry_run: bool = False) -> tuple[str, list[str]]:
    """Compose and send (or save) the review mail; return (where it went, notes)."""
    if settings.transport == "graph":
        composed = compose(
            report,
            settings,
            size_limit=GRAPH_REQUEST_LIMIT,
            measure=lambda m: len(json.dumps(graph_message(m)).encode()),
        )
    else:
        composed = compose(report, settings)
    if dry_run:
        return f"saved to {save_eml(composed.message, report.folder)}", composed.notes
    if settings.transport == "graph":
        graph_send(composed.message, settings, ws)
        return f"sent through Microsoft Graph as {settings.sender}", composed.notes
    smtp_send(composed.message, settings)
    return f"sent through {settings.smtp_host}:{settings.smtp_port}", composed.notes
